// The call page's player: a click on a turn's time (or on a [MM:SS] quote) seeks the
// recording there and plays; the turn being heard is highlighted. Without JavaScript the
// same links jump to the turn in the transcript.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  var turns = Array.prototype.slice.call(document.querySelectorAll(".turn[data-start]"));

  function seek(seconds) {
    player.currentTime = seconds;
    highlight();
    var playing = player.play();
    if (playing && playing.catch) { playing.catch(function () { /* autoplay refused: stay paused */ }); }
  }

  function highlight() {
    var now = player.currentTime;
    var current = null;
    turns.forEach(function (turn) {
      if (parseFloat(turn.dataset.start) <= now + 0.05) { current = turn; }
    });
    turns.forEach(function (turn) {
      var on = turn === current;
      turn.classList.toggle("playing", on);
      if (on) { turn.setAttribute("aria-current", "true"); } else { turn.removeAttribute("aria-current"); }
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-seek]");
    if (!link) { return; }
    event.preventDefault();
    seek(parseFloat(link.dataset.seek));
    var target = document.querySelector(link.getAttribute("href"));
    if (target && target.scrollIntoView) { target.scrollIntoView({block: "nearest"}); }
  });
  player.addEventListener("timeupdate", highlight);
  player.addEventListener("seeked", highlight);
})();
