"""Phrase recognizers for PII that Presidio's checksum patterns do not cover.

Each is a regular expression whose named group ``pii`` is the span to redact; the words
around it (``my name is``, ``date of birth``, ``password``) are the context that makes the
match believable. They are what a phone call says out loud, not a named-entity model: a name
said with no introduction ("Sarah called yesterday") is not found. ``redact.py`` states that
in the evaluation's notes for every category that relies on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PHRASES", "Phrase"]

_CI = re.IGNORECASE

_NAME = r"[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?"
# Words that follow "this is" / "I'm" without being a name.
_DEMONYMS = (
    "American|Mexican|Canadian|Chinese|Indian|Pakistani|Filipino|Vietnamese|Korean|Japanese|"
    "Cuban|Puerto Rican|Dominican|Salvadoran|Guatemalan|Colombian|Brazilian|Venezuelan|"
    "Peruvian|Haitian|Jamaican|Nigerian|Ethiopian|Somali|Kenyan|Ghanaian|Egyptian|Moroccan|"
    "Iranian|Iraqi|Syrian|Lebanese|Turkish|Israeli|Palestinian|Afghan|Russian|Ukrainian|"
    "Polish|German|French|Italian|Spanish|Portuguese|Irish|Scottish|British|English|Greek|"
    "Hispanic|Latino|Latina|Latinx|Asian|African|Caribbean|Arab|Native American|Caucasian|"
    "Black|White"
)
_NOT_NAMES = (
    "A|An|The|And|But|So|Just|Not|Calling|Sorry|Here|Fine|Good|Great|Okay|Ok|Yes|No|Sure|"
    "Looking|Trying|Having|Going|Still|Also|Really|Very|Actually|Interested|Happy|Glad|Able|"
    "Your|My|Our|It|This|That|What|Why|How|When|Where|Who|Hi|Hello|Hey|Thanks|Thank|Please|"
    "Well|Um|Uh|Oh|All|Right|Correct|Done|Ready|Afraid|Wondering|Back|Sir|Madam|Ma'am|Mister|"
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Customer|Support|Team|Agent|"
    "Assistant|Service|Billing|Sales|Calling|Speaking|Available|Unavailable|Busy|Free"
)
_PERSON = rf"(?!(?:{_NOT_NAMES}|{_DEMONYMS})\b){_NAME}(?:\s+(?!(?:{_NOT_NAMES})\b){_NAME}){{0,2}}"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_ORDINAL_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|"
    r"twentieth|thirtieth|twenty[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|"
    r"ninth)|thirty[- ]first)"
)
_YEAR = r"(?:1[89]\d\d|20\d\d|'\d\d)"
_NUMWORD = (
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand)"
)
_NUMBER_WORDS = rf"{_NUMWORD}(?:[- ]{_NUMWORD})*"
DATE = (
    rf"(?:{_MONTH}\s+(?:{_DAY}|the\s+{_ORDINAL_WORDS}|{_ORDINAL_WORDS})(?:,?\s*{_YEAR})?"
    rf"|(?:the\s+)?(?:{_DAY}|{_ORDINAL_WORDS})\s+(?:of\s+)?{_MONTH}(?:,?\s*{_YEAR})?"
    rf"|{_MONTH}\s+{_YEAR}"
    r"|\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})\b"
)
_WEEKDAY = r"(?:(?:next|last|this)\s+)?(?:mon|tues|wednes|thurs|fri|satur|sun)day"
_ID = r"[A-Z0-9](?:[A-Z0-9]|-(?=[A-Z0-9])|\s(?=\d)){3,19}"
_IS = r"(?:\s+(?:number|no\.?|#|id)s?)?(?:\s+(?:is|are|was|it's|would be|reads|:)|\s*:|\s*#)?\s*"
_STREET = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|circle|parkway|pkwy|highway|hwy|square|sq)\.?"
)
_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|"
    "NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC"
)


@dataclass(frozen=True)
class Phrase:
    """A recognizer: ``pattern``'s group ``pii`` (or the whole match) is the span.
    ``needs_digit``: every match holds a digit, so a text without one is not searched."""

    name: str
    pattern: re.Pattern[str]
    needs_digit: bool = False


def _p(name: str, pattern: str, flags: int = _CI) -> Phrase:
    return Phrase(name, re.compile(pattern, flags))


def _d(name: str, pattern: str, flags: int = _CI) -> Phrase:
    """A phrase whose every match holds a digit (``\\d`` outside any optional part)."""
    return Phrase(name, re.compile(pattern, flags), needs_digit=True)


_INTRO = (
    r"(?i:my\s+name\s+is|my\s+name's|name\s+is|name's|names?\s*:|this\s+is|i\s+am|i'm|"
    r"it's|speaking\s+with|talking\s+to|ask\s+for|mr\.?|mrs\.?|ms\.?|miss|mister|"
    r"(?:first|last|full|middle|maiden)\s+name\s+(?:is|was)|under(?:\s+the\s+name)?|"
    r"account\s+holder\s+is|spouse\s+is|wife\s+is|husband\s+is|son\s+is|daughter\s+is)"
)
_GREETING = r"(?i:thanks|thank\s+you|hi|hello|hey|bye|goodbye|okay|great|perfect|welcome)"

PHRASES: dict[str, tuple[Phrase, ...]] = {
    "person_name": (
        _p("introduced name", rf"\b{_INTRO}\s+(?P<pii>{_PERSON})\b", 0),
        _p("addressed name", rf"\b{_GREETING},?\s+(?P<pii>{_PERSON})\b(?=\s*[,.!?]|\s*$)", 0),
        _p(
            "spelled name",
            r"\b(?:spelled|spell(?:s|ing)?\s+(?:it|that))\s*:?\s*"
            r"(?P<pii>[A-Z](?:[-. ]+[A-Z]){2,})\b",
        ),
    ),
    "medical_professional": (
        _p(
            "titled clinician", rf"\b(?P<pii>(?:Dr\.?|Doctor|Nurse|Dr)\s+{_NAME}(?:\s+{_NAME})?)", 0
        ),
        _p(
            "my clinician is",
            rf"(?i:my\s+(?:doctor|physician|dentist|therapist|nurse|"
            rf"cardiologist|pediatrician|surgeon|provider|psychiatrist|oncologist)"
            rf"(?:\s+is|,))\s+(?P<pii>{_NAME}(?:\s+{_NAME})?)",
            0,
        ),
    ),
    "age": (
        _p("years old", rf"\b(?P<pii>(?:\d{{1,3}}|{_NUMBER_WORDS})[- ](?:years?|yrs?)[- ]old)\b"),
        _d(
            "age is",
            r"\b(?:age(?:d|\s+is)?|i\s+am|i'm|turning|turned)\s+"
            r"(?P<pii>\d{1,3})\b(?=\s*(?:[.,!?]|$|and\b|years?\b|next\b))",
        ),
    ),
    "date": (
        _p("calendar date", rf"\b(?P<pii>{DATE})"),
        _p("weekday", rf"\b(?P<pii>{_WEEKDAY})\b"),
    ),
    "dob": (
        _p(
            "date of birth",
            rf"(?:date\s+of\s+birth|d\.?o\.?b\.?|birth\s*date|birthday|born"
            rf"(?:\s+on)?)(?:\s+(?:is|was|of))?\s*:?\s*(?P<pii>{DATE}|{_YEAR})",
        ),
    ),
    "time": (
        _d(
            "clock time",
            r"\b(?P<pii>(?:[01]?\d|2[0-3])(?::[0-5]\d)?\s*(?:a\.?m\.?|p\.?m\.?)"
            r"|(?:[01]?\d|2[0-3]):[0-5]\d)(?![\w:])",
        ),
        _p(
            "spoken time",
            rf"\b(?:at|by|around|until|before|after)\s+(?P<pii>{_NUMWORD}"
            r"(?:[- ](?:thirty|fifteen|forty[- ]five|o'clock|o\s+clock))?"
            r"(?:\s+(?:in\s+the\s+)?(?:morning|afternoon|evening|tonight))?)\b(?=\s*(?:o'clock|"
            r"in\s+the|tomorrow|today|tonight|[.,!?]|$))",
        ),
        _p("noon", r"\b(?P<pii>noon|midnight)\b"),
    ),
    "location": (
        _d(
            "street address",
            rf"\b(?P<pii>\d{{1,6}}\s+(?:[A-Za-z0-9.'-]+\s+){{0,4}}{_STREET}"
            rf"(?:,?\s+(?:apt|apartment|suite|unit|#)\.?\s*#?\w+)?"
            rf"(?-i:,\s*[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)?(?-i:,?\s+(?:{_STATES}))?(?:,?\s+\d{{5}})?)\b",
        ),
        _p(
            "city and state",
            rf"\b(?P<pii>(?:[A-Z][a-z]+\s+){{0,2}}[A-Z][a-z]+,\s*(?:{_STATES})"
            r"(?:\s+\d{5}(?:-\d{4})?)?)\b",
            0,
        ),
        _p(
            "lives in",
            rf"(?i:live\s+in|living\s+in|located\s+in|based\s+in|moved\s+to|"
            rf"moving\s+to|address\s+is|city\s+is|town\s+of)\s+(?P<pii>{_NAME}(?:\s+{_NAME})?)",
            0,
        ),
        _d(
            "zip code",
            r"(?:zip|postal|post)\s*(?:code)?(?:\s+is)?\s*:?\s*"
            r"(?P<pii>\d{5}(?:-\d{4})?|[A-Z]\d[A-Z]\s?\d[A-Z]\d)\b",
        ),
    ),
    "origin": (
        _p(
            "from originally",
            rf"(?i:originally\s+from|grew\s+up\s+in|born\s+in|native\s+of|"
            rf"immigrated\s+from)\s+(?P<pii>{_NAME}(?:\s+{_NAME})?)",
            0,
        ),
        _p("demonym", rf"\b(?P<pii>(?:{_DEMONYMS}))(?:-American)?\b", 0),
    ),
    "gender_sexuality": (
        _p(
            "identity term",
            r"\b(?P<pii>gay|lesbian|bisexual|transgender|trans\s+(?:wo)?man|"
            r"non-?binary|queer|asexual|pansexual|heterosexual|homosexual|cisgender|"
            r"gender-?fluid|intersex)\b",
        ),
        _p("pronouns", r"\bpronouns\s+(?:are\s+)?(?P<pii>(?:he|she|they|ze|xe)\s*/\s*\w+)"),
        _p(
            "gender is",
            r"\b(?:gender|sex)\s*(?:is|:)\s*(?P<pii>male|female|man|woman|other|"
            r"non-?binary|m|f)\b",
        ),
        _p("i am a", r"\b(?:i\s+am|i'm)\s+(?:a\s+)?(?P<pii>male|female|man|woman)\b"),
    ),
    "physical_attribute": (
        _d(
            "height",
            r"\b(?P<pii>\d\s*(?:'|foot|feet|ft)\s*(?:\d{1,2}\s*(?:\"|''|inches|in)?)?"
            r"|\d{3}\s*(?:cm|centimeters))(?!\w)",
        ),
        _d(
            "weight",
            r"\b(?:weigh|weighs|weight\s+is|weighing)\s+(?:about\s+|around\s+)?"
            r"(?P<pii>\d{2,3}\s*(?:pounds|lbs?|kg|kilos))\b",
        ),
        _p(
            "eyes hair",
            r"\b(?P<pii>(?:blue|brown|green|hazel|gr[ae]y|black|blonde?|red|auburn|"
            r"bald|curly|dark|light)\s+(?:eyes|hair|skin))\b",
        ),
    ),
    "occupation": (
        _p(
            "work as",
            r"(?:work(?:ing)?\s+as|job\s+is|occupation\s+is|employed\s+as|i'm|"
            r"i\s+am)\s+(?:an?\s+)?(?P<pii>(?:registered\s+|retired\s+|school\s+|truck\s+|software\s+)?"
            r"(?:nurse|teacher|engineer|developer|lawyer|attorney|accountant|driver|electrician|"
            r"plumber|carpenter|mechanic|doctor|physician|pharmacist|firefighter|police\s+officer|"
            r"officer|soldier|veteran|student|professor|chef|cook|waiter|waitress|cashier|"
            r"manager|contractor|consultant|realtor|dentist|therapist|farmer|pilot|paramedic|"
            r"programmer|designer|writer|journalist|banker|salesman|secretary|janitor))\b",
        ),
    ),
    "username": (
        _p(
            "username is",
            rf"\b(?:user\s*name|user\s+id|login|handle|screen\s+name){_IS}"
            r"(?P<pii>[\w.@-]*\w)",
        ),
    ),
    "password": (
        _p(
            "password is",
            rf"\b(?:password|passcode|pass\s+code|passphrase|pin(?:\s+code)?|"
            rf"security\s+(?:code|answer)){_IS}(?P<pii>[^\s,;\"']*[^\s,;.!?\"'])",
        ),
    ),
    "filename": (
        _p(
            "file name",
            r"\b(?P<pii>[\w-]+(?:\.[\w-]+)*\.(?:pdf|docx?|xlsx?|csv|txt|rtf|pptx?|"
            r"png|jpe?g|gif|heic|tiff?|zip|mp3|wav|m4a|mp4|mov|json|xml|html?))\b",
        ),
    ),
    "event": (
        _p(
            "life event",
            r"\b(?:my|our|his|her|their|the)\s+(?:\w+'s\s+)?(?P<pii>wedding|"
            r"funeral|graduation|baby\s+shower|bar\s+mitzvah|bat\s+mitzvah|quinceañera|"
            r"anniversary|divorce|surgery|court\s+(?:date|hearing)|memorial|reunion|"
            r"birthday\s+party|retirement\s+party)\b",
        ),
    ),
    "vehicle_id": (
        _p(
            "plate",
            rf"\b(?:license\s+plate|plate(?:\s+number)?|tag\s+number){_IS}"
            rf"(?P<pii>{_ID})\b",
        ),
        _p("vin", rf"\b(?:vin|vehicle\s+identification){_IS}(?P<pii>[A-HJ-NPR-Z0-9]{{11,17}})\b"),
    ),
    "healthcare_number": (
        _p(
            "member id",
            rf"\b(?:member|medicare|medicaid|insurance|policy|subscriber|group|"
            rf"health\s+card|nhs|mrn|medical\s+record|patient){_IS}(?P<pii>{_ID})\b",
        ),
    ),
    "account_number": (
        _d(
            "account number",
            rf"\b(?:account|acct|customer|client|loyalty|membership|order|"
            rf"reference|confirmation){_IS}(?:ending\s+in\s+)?(?P<pii>(?=[A-Z-]*\d){_ID})\b",
        ),
    ),
    "bank_account": (
        _d(
            "bank account",
            rf"\b(?:checking|savings|bank|routing|iban)(?:\s+account)?{_IS}"
            r"(?:ending\s+in\s+)?(?P<pii>\d(?:[ -]?\d){3,16})\b",
        ),
    ),
    "money": (
        _d(
            "currency amount",
            r"(?P<pii>[$€£]\s?\d[\d,]*(?:\.\d{1,2})?(?:\s?(?:k|million|"
            r"billion|thousand))?|\b\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars|bucks|usd|cents|euros|"
            r"pounds\s+sterling)\b)",
        ),
        _p("spoken amount", rf"\b(?P<pii>{_NUMBER_WORDS}\s+(?:dollars|bucks|cents|euros))\b"),
    ),
    "ssn": (
        _d(
            "last four of social",
            rf"\blast\s+(?:four|4)(?:\s+digits)?\s+of\s+(?:my|the|his|"
            rf"her)?\s*(?:social|ssn)(?:\s+security)?{_IS}(?P<pii>\d{{4}})\b",
        ),
        _d(
            "social is",
            rf"\b(?:social(?:\s+security)?|ssn|ss\s+number){_IS}"
            r"(?P<pii>\d{3}[- .]?\d{2}[- .]?\d{4})\b",
        ),
    ),
    "passport_number": (_p("passport", rf"\bpassport{_IS}(?P<pii>[A-Z0-9]{{6,9}})\b"),),
    "driver_license": (
        _d(
            "licence",
            rf"\b(?:driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|licen[cs]e|dl)"
            rf"{_IS}(?P<pii>(?=[A-Z-]*\d){_ID})\b",
        ),
    ),
    "credit_card": (
        # The Luhn-checked recognizer misses a number the caller misread or the transcriber
        # misheard; with "card" said nearby a 13-19 digit run is redacted all the same.
        _d(
            "card number",
            r"\b(?:card|visa|mastercard|amex|discover)(?:\s+number)?[^\d]{0,30}?"
            r"(?P<pii>\d(?:[ -]?\d){12,18})\b",
        ),
        _d(
            "card security",
            rf"\b(?:cvv|cvc|security\s+code|expir\w*(?:\s+date)?){_IS}"
            r"(?P<pii>\d{3,4}|\d{1,2}\s*/\s*\d{2,4})\b",
        ),
    ),
    "phone_number": (
        _d(
            "phone with context",
            r"\b(?:phone|number|call|cell|mobile|reach|text|fax|ext"
            r"|extension)\b[^\d]{0,25}?"
            r"(?P<pii>\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}|\d{3}[ .-]\d{4})\b",
        ),
    ),
    "numerical_pii": (
        _d("long number", r"(?<![\w$€£.,:-])(?P<pii>\d(?:[ -]?\d){3,})(?![\w:]|[.,]\d)"),
    ),
}
