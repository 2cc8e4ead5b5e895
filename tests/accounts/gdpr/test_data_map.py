"""docs/compliance.md shows the data map of the code (one source for the export and the docs)."""

from pathlib import Path

from accounts.gdpr import data_map

COMPLIANCE = Path(__file__).resolve().parents[3] / "docs" / "compliance.md"


def test_the_compliance_doc_shows_the_data_map_of_the_code():
    text = COMPLIANCE.read_text()
    shown = text.split("<!-- data-map:start -->\n", 1)[1].split("<!-- data-map:end -->", 1)[0]

    assert shown == data_map.markdown(), (
        "docs/compliance.md's data map differs from accounts/gdpr/data_map.py: regenerate it with "
        "`python manage.py shell -c \"from accounts.gdpr.data_map import markdown; print(markdown(), end='')\"`"
    )


def test_every_data_class_has_its_purpose_basis_recipients_and_retention():
    for row in data_map.as_json():
        assert all(row[key] for key in ("where", "personal_data", "purpose", "legal_basis", "recipients", "retention"))
