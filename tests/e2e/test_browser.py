"""Browser end-to-end tests: each scenario of scenarios.mjs runs in a fresh
headless Chromium profile against the whole running stack. Screenshots land
in artifacts/e2e/."""
from __future__ import annotations

import subprocess

import pytest

from tests.support.services import REPO

from .conftest import ARTIFACTS

SCENARIOS = [
    "suggest_and_accept",
    "words_alternatives_click",
    "type_over_cancels",
    "switch_model",
    "draft_survives_reload",
    "share_link",
    "other_tab_sync",
    "drafts_list",
    "reconnects",
    "phone_and_help",
    "sign_up_keeps_drafts",
    "publish_and_vote",
    "export_markdown",
    "delete_account",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_browser(scenario, e2e_stack):
    run = subprocess.run(
        ["node", "tests/e2e/run.mjs", scenario, "--base", e2e_stack, "--artifacts", str(ARTIFACTS)],
        cwd=REPO, capture_output=True, text=True, timeout=240,
    )
    assert run.returncode == 0, f"{scenario} failed:\n{run.stdout}\n{run.stderr}"
