"""Pure tier: each category's detection, and that tags land where the PII was."""

from __future__ import annotations

import pytest

from evaluator.contract import PII_CATEGORIES
from evaluator.errors import RequestValidationError
from evaluator.redact.detect import METHODS, TAGS, detect
from evaluator.redact.mask import redact_json, redact_text

# (category, utterance, the text that must disappear)
CASES = [
    ("person_name", "Hi, my name is Sarah Johnson.", "Sarah Johnson"),
    ("age", "I'm 45 years old.", "45 years old"),
    ("phone_number", "You can reach me at (415) 555-2671.", "(415) 555-2671"),
    ("email_address", "It's sarah.j@gmail.com.", "sarah.j@gmail.com"),
    ("date", "Can we do March 14th?", "March 14th"),
    ("time", "How about 3:30 pm tomorrow?", "3:30 pm"),
    ("location", "I live at 1420 Oak Street, Denver.", "1420 Oak Street, Denver"),
    ("origin", "I'm originally from Guatemala.", "Guatemala"),
    ("gender_sexuality", "I'm non-binary.", "non-binary"),
    ("physical_attribute", "He has brown hair.", "brown hair"),
    ("occupation", "I work as a registered nurse.", "registered nurse"),
    ("username", "My username is sjohnson85.", "sjohnson85"),
    ("password", "My password is Tr0ub4dor&3.", "Tr0ub4dor&3"),
    ("ip_address", "The IP is 192.168.1.20.", "192.168.1.20"),
    ("url", "Go to https://acme.io/help now.", "https://acme.io/help"),
    ("filename", "I sent insurance_card.pdf yesterday.", "insurance_card.pdf"),
    ("event", "It's for my wedding.", "wedding"),
    ("vehicle_id", "The VIN is 1HGCM82633A004352.", "1HGCM82633A004352"),
    ("dob", "My date of birth is July 4, 1990.", "July 4, 1990"),
    ("healthcare_number", "My Medicare number is 1EG4-TE5-MK73.", "1EG4-TE5-MK73"),
    ("medical_professional", "I see Dr. Patel on Monday.", "Dr. Patel"),
    ("credit_card", "The card is 4111 1111 1111 1111.", "4111 1111 1111 1111"),
    ("account_number", "My account number is 00482917.", "00482917"),
    ("bank_account", "The routing number is 021000021.", "021000021"),
    ("money", "They charged me $1,250.00 twice.", "$1,250.00"),
    ("ssn", "My social is 219-09-9999.", "219-09-9999"),
    ("passport_number", "My passport number is 912803456.", "912803456"),
    ("driver_license", "Driver's license number D1234567.", "D1234567"),
    ("numerical_pii", "The code on the letter is 58213.", "58213"),
]


def test_every_contract_category_has_a_case_a_tag_and_a_method() -> None:
    assert {c for c, _, _ in CASES} == set(PII_CATEGORIES)
    assert set(TAGS) == set(METHODS) == set(PII_CATEGORIES)


@pytest.mark.parametrize(("category", "text", "secret"), CASES, ids=[c[0] for c in CASES])
def test_each_category_is_replaced_by_its_tag_in_place(
    category: str, text: str, secret: str
) -> None:
    redacted, counts = redact_text(text, [category])
    assert secret not in redacted
    assert redacted == text.replace(secret, f"<{TAGS[category]}>")
    assert counts == {category: 1}


def test_only_requested_categories_are_redacted() -> None:
    text = "My name is Sarah Johnson and my card is 4111 1111 1111 1111."
    redacted, _ = redact_text(text, ["credit_card"])
    assert redacted == "My name is Sarah Johnson and my card is <CREDIT_CARD>."


def test_card_failing_luhn_is_still_redacted_when_called_a_card() -> None:
    redacted, _ = redact_text("my card number is 4111 1111 1111 1112", ["credit_card"])
    assert "4111" not in redacted


def test_numbers_said_as_words_are_redacted() -> None:
    text = "call me at four one five, five five five, two six seven one please"
    redacted, counts = redact_text(text, ["phone_number"])
    assert redacted == "call me at <PHONE_NUMBER> please"
    assert counts == {"phone_number": 1}


def test_overlapping_detections_leave_no_fragment() -> None:
    # The e-mail's domain is also a URL; the union is tagged once, by the specific category.
    redacted, _ = redact_text("write to jo@example.com", ["email_address", "url"])
    assert redacted == "write to <EMAIL_ADDRESS>"


def test_ordinary_call_talk_is_left_alone() -> None:
    text = "Press one for sales. I've waited ten minutes. Can you transfer me to billing?"
    assert detect(text, PII_CATEGORIES) == []


def test_unknown_category_names_the_field() -> None:
    with pytest.raises(RequestValidationError) as err:
        redact_text("hi", ["credit_cards"])
    assert "redact_fields" in err.value.errors


def test_json_values_under_pii_keys_are_replaced_whole_and_timestamps_kept() -> None:
    value = {
        "customer": {"firstName": "Ann", "phone": 4155552671, "email": "a@b.io"},
        "createdAt": "2026-01-02T10:00:00Z",
        "messages": [{"role": "user", "message": "My SSN is 219-09-9999"}],
        "tool": {"name": "book_appointment", "arguments": '{"dob": "1990-07-04"}'},
    }
    cats = ["person_name", "phone_number", "email_address", "ssn", "dob", "date"]
    redacted, counts = redact_json(value, cats)
    assert redacted["customer"] == {
        "firstName": "<PERSON>",
        "phone": "<PHONE_NUMBER>",
        "email": "<EMAIL_ADDRESS>",
    }
    assert redacted["createdAt"] == "2026-01-02T10:00:00Z"
    assert redacted["messages"][0] == {"role": "user", "message": "My SSN is <SSN>"}
    assert redacted["tool"] == {"name": "book_appointment", "arguments": '{"dob": "<DOB>"}'}
    assert counts["ssn"] == 1 and counts["dob"] == 1
