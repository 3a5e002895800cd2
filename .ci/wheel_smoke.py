"""Smoke test of the installed wheel, run by ``.ci/run`` from a directory outside the source tree.

Usage: ``<fresh venv>/bin/python wheel_smoke.py <source tree>``. Every check reads what the wheel installed:
the four packages (the emulator's included) load from site-packages (never from the source tree),
``py.typed`` is in each, the metadata carries the version, license file and project URLs, both console
scripts run, and one call through the core, LangChain and LlamaIndex against the packaged emulator is
answered and priced from the packaged price table, with the doctor passing and the notebook display
rendering. Exits non-zero on the first failure.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

DIST = "azure-openai-gateway"
PACKAGES = ("shared_core", "langchain_azure_gateway", "llamaindex_azure_gateway", "azure_openai_emulator")
KEY = "wheel-smoke-key"


def check(condition: object, what: str) -> None:
    if not condition:
        raise SystemExit(f"wheel smoke test FAILED: {what}")
    print(f"  ok  {what}")


def installed_from_site_packages(source: Path) -> None:
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for name in PACKAGES:
        module = importlib.import_module(name)
        where = Path(module.__file__ or "").resolve()
        check(where.is_relative_to(site) and not where.is_relative_to(source), f"{name} loads from {where.parent}")
        if "." not in name:
            check((where.parent / "py.typed").is_file(), f"{name}/py.typed is installed")


def metadata() -> None:
    import shared_core

    meta = importlib.metadata.metadata(DIST)
    version = importlib.metadata.version(DIST)
    check(version == shared_core.__version__, f"distribution version {version} == shared_core.__version__")
    check(meta["License-Expression"] == "MIT", "License-Expression: MIT")
    files = [str(f) for f in importlib.metadata.files(DIST) or ()]
    check(any(f.endswith("licenses/LICENSE") for f in files), "LICENSE is in the dist-info")
    urls = meta.get_all("Project-URL") or []
    check(len(urls) >= 3, f"{len(urls)} project URLs")
    check(len(meta.get_all("Classifier") or []) >= 5, "classifiers")


def console_scripts() -> None:
    bin_dir = Path(sys.executable).parent
    for script in ("azure-gateway", "azure-openai-emulator"):
        done = subprocess.run([bin_dir / script, "--help"], capture_output=True, text=True, timeout=60, check=False)
        check(done.returncode == 0 and "usage" in done.stdout.lower(), f"{script} --help runs")


def calls_through_every_package() -> None:
    from azure_openai_emulator import AzureEmulator
    from langchain_azure_gateway import AzureGatewayChatModel
    from llamaindex_azure_gateway import AzureGatewayLLM
    from shared_core import ChatRequest, Gateway, Message, load_config
    from shared_core.doctor import run_doctor

    with AzureEmulator(api_key=KEY) as emulator:
        config = load_config(env={}, endpoint=emulator.endpoint, api_key=KEY, default_deployment="gpt-4o-mini")
        result = Gateway(config).complete(ChatRequest((Message.user("Hello from the wheel"),)))
        check(result.text == "You said: Hello from the wheel", "the core gateway answers")
        check(result.cost is not None and (result.cost.amount or 0) > 0, "the call is priced (price table shipped)")
        check("You said: Hello from the wheel" in result._repr_html_(), "a result renders as HTML")
        settings = {"azure_endpoint": emulator.endpoint, "api_key": KEY}
        reply = AzureGatewayChatModel(azure_deployment="gpt-4o-mini", **settings).invoke("LangChain")
        check(reply.content == "You said: LangChain", "LangChain's AzureGatewayChatModel answers")
        answer = AzureGatewayLLM(engine="gpt-4o-mini", **settings).complete("LlamaIndex")
        check(answer.text == "You said: LlamaIndex", "LlamaIndex's AzureGatewayLLM answers")
        env = {"AZURE_OPENAI_ENDPOINT": emulator.endpoint, "AZURE_OPENAI_API_KEY": KEY}
        report = run_doctor(env=env | {"AZURE_OPENAI_DEFAULT_DEPLOYMENT": "gpt-4o-mini"}, echo=lambda _: None)
        check(report.ok, f"the doctor passes ({report.summary()})")


def main() -> int:
    source = Path(sys.argv[1]).resolve()
    check(not Path.cwd().resolve().is_relative_to(source), f"running outside the source tree ({Path.cwd()})")
    check("PYTHONPATH" not in os.environ, "no PYTHONPATH")
    installed_from_site_packages(source)
    metadata()
    console_scripts()
    calls_through_every_package()
    print("wheel smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
