"""verifier sign / verifier check-report (contract section 3): a PAdES signature that keeps the
PDF/A-3 report and its attachments, and a check that rejects a tampered report, a swapped
attachment and a changed input. The certificate is self-signed, made here."""

from __future__ import annotations

import datetime
import io
import json
import re
import shutil
import subprocess
import sys

import pypdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from conftest import REPO
from verifier.report import evidence
from verifier.report_check import Checked, check_inputs

PASSPHRASE = "核证 secret"
SIGNER = "Test Verifier 测试核证员"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "verifier", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def one_error_line(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for w in words:
        assert w in lines[0], lines[0]


def differences(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("differs: ")]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pkg") / "bike-clean"
    shutil.copytree(REPO / "samples" / "bike-clean", folder)
    return folder


@pytest.fixture(scope="module")
def report(package, tmp_path_factory):
    """The demo's report (the bundled clean package, seed 7), rendered once."""
    from verifier.run import verify

    out = tmp_path_factory.mktemp("run") / "out"
    verify(package, out, factors=package / "factors.yaml", seed=7)
    return out


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """A self-signed certificate and its key in a passphrase-protected PKCS#12 file."""
    folder = tmp_path_factory.mktemp("key")
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SIGNER)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(private, hashes.SHA256()))
    p12 = folder / "verifier.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"verifier", private, cert, None, serialization.BestAvailableEncryption(PASSPHRASE.encode())))
    passphrase = folder / "passphrase.txt"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return p12, passphrase


@pytest.fixture(scope="module")
def signed(report, key, tmp_path_factory):
    """The report signed with the CLI's defaults (REPORT.signed.pdf beside it), and the input's bytes."""
    before = (report / "report.pdf").read_bytes()
    result = run_cli("sign", report / "report.pdf", "--key", key[0], "--passphrase-file", key[1],
                     "--reason", "核证报告签发")
    assert result.returncode == 0, result.stderr
    assert SIGNER in result.stdout
    return report / "report.signed.pdf", before


def tampered(tmp_path, data: bytes):
    path = tmp_path / "tampered.pdf"
    path.write_bytes(data)
    return path


def test_sign_help():
    result = run_cli("sign", "--help")
    assert result.returncode == 0
    for option in ("--key", "--passphrase-file", "--reason", "--out"):
        assert option in result.stdout


def test_signed_report_checks_out_with_its_inputs(signed, report, package):
    path, before = signed
    assert (report / "report.pdf").read_bytes() == before, "the input was modified"
    data = path.read_bytes()
    assert data.startswith(before) and len(data) > len(before), "not an incremental update"
    result = run_cli("check-report", path, "--inputs", package)
    assert result.returncode == 0, result.stdout + result.stderr
    assert differences(result) == []
    assert f"signed by 'Common Name: {SIGNER}'" in result.stdout
    assert "certificate not trusted by a CA" in result.stdout  # self-signed: reported, not failed
    assert "inputs: 8 of 8" in result.stdout
    assert result.stdout.splitlines()[-1] == "report intact"


def test_signed_report_keeps_attachments_metadata_and_pdfa(signed, report):
    path, before = signed
    signed_pdf, original = pypdf.PdfReader(path), pypdf.PdfReader(io.BytesIO(before))
    attached = signed_pdf.attachments
    names = ("findings.json", "sample.csv", "excluded.csv")
    assert set(attached) == set(names)
    for name in names:
        assert attached[name] == [(report / name).read_bytes()], name
    xmp = signed_pdf.xmp_metadata.stream.get_data()
    assert xmp == original.xmp_metadata.stream.get_data()
    assert re.search(rb'pdfaid:part(="|>)3', xmp) and re.search(rb'pdfaid:conformance(="|>)B', xmp)
    assert signed_pdf.metadata == original.metadata  # PDF/A: Info must keep agreeing with the XMP
    recorded = evidence.decode(signed_pdf.metadata["/" + evidence.INFO_KEY])
    assert recorded == evidence.digests({n: (report / n).read_bytes() for n in names})


def test_unsigned_report_checks_out_and_prints_the_findings_digest(report):
    result = run_cli("check-report", report / "report.pdf")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not signed" in result.stdout
    digest = evidence.sha256((report / "findings.json").read_bytes())
    text = "".join(page.extract_text() for page in pypdf.PdfReader(report / "report.pdf").pages)
    assert digest in "".join(text.split())


def test_changed_byte_in_signed_report_is_rejected(signed, tmp_path):
    data = bytearray(signed[0].read_bytes())
    data[len(signed[1]) // 2] ^= 0x01  # inside the signed revision
    result = run_cli("check-report", tampered(tmp_path, bytes(data)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert differences(result) == ["differs: signature 'Signature1': the signed bytes were changed after signing"]


@pytest.mark.parametrize("junk", [b"%forged\n" * 400, b"garbage\nstartxref\n0\n%%EOF\n"],
                         ids=["comment lines", "a false end-of-file"])
def test_bytes_appended_to_signed_report_are_rejected(signed, tmp_path, junk):
    result = run_cli("check-report", tampered(tmp_path, signed[0].read_bytes() + junk))
    assert result.returncode == 1, result.stdout + result.stderr
    assert differences(result) == [f"differs: {len(junk):,} bytes were appended after the end of the PDF"]


def test_revision_added_after_signing_is_rejected(signed, tmp_path):
    """A well-formed incremental update (a new title) after the signature: not covered by it."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed[0].read_bytes()))
    info = writer.prev.trailer["/Info"]
    info["/Title"] = generic.TextStringObject("forged")
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    result = run_cli("check-report", tampered(tmp_path, out.getvalue()))
    assert result.returncode == 1, result.stdout + result.stderr
    assert any("Signature1" in line and "added after signing" in line for line in differences(result)), result.stdout


def sign_again(path, key, out):
    result = run_cli("sign", path, "--key", key[0], "--passphrase-file", key[1], "--out", out)
    assert result.returncode == 0, result.stderr
    assert "(field Signature2)" in result.stdout
    return out


def test_countersigned_report_checks_out(signed, key, tmp_path):
    result = run_cli("check-report", sign_again(signed[0], key, tmp_path / "countersigned.pdf"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sum(line.startswith("ok: signature 'Signature") for line in result.stdout.splitlines()) == 2


def test_page_changed_after_signing_then_countersigned_is_rejected(signed, key, tmp_path):
    """A drawing added to page 1 after the first signature, then signed again: the second
    signature is intact, but the first no longer describes the document."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed[0].read_bytes()))
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(stream_data=b"q 10 10 100 100 re S Q")))
    out = io.BytesIO()
    writer.write(out)
    result = run_cli("check-report", sign_again(tampered(tmp_path, out.getvalue()), key, tmp_path / "re.pdf"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert differences(result) == [
        "differs: signature 'Signature1': the document was changed after signing, not only signed again"]


def test_swapped_attachment_is_rejected(report, tmp_path):
    """An unsigned report whose findings.json was rewritten: it is no longer the one rendered."""
    writer = pypdf.PdfWriter(clone_from=report / "report.pdf")
    forged = json.loads((report / "findings.json").read_text(encoding="utf-8"))
    forged["conclusion"] = "pass" if forged["conclusion"] == "fail" else "fail"
    (target,) = [f for f in writer.attachment_list if f.name == "findings.json"]
    target.content = json.dumps(forged).encode("utf-8")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tampered(tmp_path, buffer.getvalue())
    assert pypdf.PdfReader(path).attachments["findings.json"] != [(report / "findings.json").read_bytes()]
    result = run_cli("check-report", path)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = differences(result)
    assert line.startswith("differs: attachment 'findings.json': not the file the report was rendered from")


def test_report_without_the_recorded_digests_is_not_confirmed(report, tmp_path):
    """A PDF whose record was removed (or one this verifier did not render) cannot confirm its
    attachments: a difference, not a pass."""
    writer = pypdf.PdfWriter(clone_from=report / "report.pdf")
    writer.metadata = {k: v for k, v in writer.metadata.items() if k != "/" + evidence.INFO_KEY}
    buffer = io.BytesIO()
    writer.write(buffer)
    result = run_cli("check-report", tampered(tmp_path, buffer.getvalue()))
    assert result.returncode == 1, result.stdout + result.stderr
    assert differences(result) == ["differs: the PDF records no attachment digests: it was not rendered by "
                                   "this verifier or the record was removed"]


def test_changed_input_is_named(signed, package, tmp_path):
    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    with open(copy / "trips.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")
    result = run_cli("check-report", signed[0], "--inputs", copy)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = differences(result)
    assert line.startswith("differs: input 'trips.csv' ('trips'): SHA-256 ")
    assert "inputs: 7 of 8" in result.stdout


def test_listed_paths_outside_the_folder_are_never_opened(tmp_path):
    inside = tmp_path / "inputs"
    (inside / "data").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"outside")
    (inside / "data" / "link.csv").symlink_to(secret)
    (inside / "data" / "ok.csv").write_bytes(b"inside")
    digest_out, digest_in = evidence.sha256(b"outside"), evidence.sha256(b"inside")
    listed = [{"role": "trips", "path": "../secret.txt", "sha256": digest_out},
              {"role": "factors", "path": str(secret), "sha256": digest_out},
              {"role": "users", "path": "data/link.csv", "sha256": digest_out},
              {"role": "report", "path": "data/ok.csv", "sha256": digest_in},
              {"role": "fares", "path": "data/missing.csv", "sha256": digest_in}]
    result = Checked()
    check_inputs({"inputs": listed}, inside, result)
    assert [line.split(": ", 1)[1] for line in result.differences] == [
        "leaves the inputs folder (..); not opened",
        "an absolute path, outside the inputs folder; not opened",
        "resolves outside the inputs folder (symbolic link); not opened",
        f"no such file under {str(inside)!r}",
    ]
    assert result.notes == [f"inputs: 1 of 5 listed in findings.json match the files under {str(inside)!r}"]


def test_sign_refuses_bad_key_passphrase_and_output(report, key, tmp_path):
    pdf = report / "report.pdf"
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not it\n", encoding="utf-8")
    out = tmp_path / "s.pdf"
    one_error_line(run_cli("sign", pdf, "--key", key[0], "--passphrase-file", wrong, "--out", out),
                   "verifier.p12", "wrong passphrase?")
    one_error_line(run_cli("sign", pdf, "--key", tmp_path / "none.p12", "--out", out), "none.p12", "no such file")
    one_error_line(run_cli("sign", pdf, "--key", pdf, "--out", out), "not a readable PKCS#12")
    one_error_line(run_cli("sign", pdf, "--key", key[0], "--passphrase-file", key[1], "--out", pdf),
                   "--out", "the report itself")
    one_error_line(run_cli("sign", key[1], "--key", key[0], "--passphrase-file", key[1], "--out", out),
                   "not a readable PDF")
    assert list(tmp_path.iterdir()) == [wrong], "something was written"


def test_check_report_unreadable_pdf_is_exit_2(tmp_path, key):
    one_error_line(run_cli("check-report", tmp_path / "none.pdf"), "none.pdf", "no such file")
    one_error_line(run_cli("check-report", key[0]), "verifier.p12", "not a PDF")
    one_error_line(run_cli("check-report", key[0], "--inputs", key[1]), "--inputs", "not a folder")
