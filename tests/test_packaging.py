"""A non-editable install ships the templates and static files and serves pages from them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).parent.parent

SMOKE = textwrap.dedent(
    """
    import sys, tempfile
    from fastapi.testclient import TestClient
    import council
    from council.app import create_app
    from council.settings import Settings
    assert council.__file__.startswith(sys.argv[1]), council.__file__
    with TestClient(create_app(Settings(data_dir=tempfile.mkdtemp(), _env_file=None))) as c:
        assert c.get("/login").status_code == 200
        assert c.get("/static/js/live.js").status_code == 200
        assert c.get("/static/css/screen.css").status_code == 200
        # The compiled Spanish catalog came along: a Spanish reader gets Spanish.
        html = c.get("/login", headers={"Accept-Language": "es"}).text
        assert '<html lang="es">' in html and "Entrar" in html, html[:500]
    print("served from", council.__file__)
    """
)


def test_wheel_ships_templates_static_migrations_and_catalogs(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("council-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (ROOT / "templates").glob("*.html"):
        assert f"council/templates/{template.name}" in names
    for asset in (p for p in (ROOT / "static").rglob("*") if p.is_file()):
        assert f"council/static/{asset.relative_to(ROOT / 'static')}" in names
    assert any(n.startswith("council/migrations/versions/0001") for n in names)
    for code in ("es", "en"):
        assert f"council/locale/{code}/LC_MESSAGES/council.mo" in names

    installed = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(installed)
    result = subprocess.run(
        [sys.executable, "-c", SMOKE, str(installed)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert str(installed) in result.stdout
