"""The built wheel carries what an installed verifier needs outside the checkout."""

import subprocess
import sys
import zipfile

from conftest import REPO
from verifier.report.fonts import FONT_FILES, font_dir


def test_wheel_carries_templates_checklists_samples_and_reference_data_but_no_tools(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("verifier-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("verifier/_bundled/templates/report.html.j2", "verifier/_bundled/templates/report.css",
                   "verifier/_bundled/templates/i18n.yaml",
                   "verifier/_bundled/checklists/shenzhen-bike-sharing.yaml",
                   "verifier/_bundled/checklists/shenzhen-public-transit.yaml",
                   "verifier/_bundled/samples/bike-clean/report.yaml",
                   "verifier/_bundled/samples/bike-clean/factors.yaml",
                   "verifier/reference/factors.yaml", "verifier/reference/materiality.yaml",
                   "verifier/transit/fares_shenzhen.yaml", "verifier/fonts/OFL.txt"):
        assert needed in names, needed
    # the test-data generator and the other developer tools stay in the checkout
    assert not [n for n in names if n.startswith("tools/") or "synth" in n.split("/")[-1]]
    assert not [n for n in names if n.endswith(".py") and not n.startswith(("verifier/", "verifier-"))]
    with zipfile.ZipFile(wheel) as wz:  # the shipped CJK fonts, byte for byte
        for _, _, name in FONT_FILES:
            assert wz.read(f"verifier/fonts/{name}") == (font_dir() / name).read_bytes(), name


def test_bundled_yaml_reads_the_same_with_the_c_parser():
    """read_yaml (libyaml's parser where PyYAML has it) gives every shipped YAML file the values
    the pure-Python safe loader gives it."""
    import yaml

    from verifier.resources import package_file, read_yaml, resource_dir

    files = [*resource_dir("templates").rglob("*.yaml"), *resource_dir("checklists").rglob("*.yaml"),
             *package_file("reference").rglob("*.yaml")]
    assert len(files) >= 10
    for path in files:
        assert read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8")), path
