"""The package boundaries the layout promises (issue 15): `contract/` is
imported by every part and imports none of them, nor torch; the backend
needs nothing from the microservice; accounts use documents, never the
other way round."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imports_of(folder: str) -> dict[str, set[str]]:
    """Every absolute module each file under `folder` imports (relative
    imports stay inside their package and are left out)."""
    found = {}
    for path in (REPO / folder).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(REPO))] = names
    return found


def offenders(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(f"{path}: {name}" for path, names in imports_of(folder).items() for name in names
                  if name.split(".")[0] in forbidden or name.startswith(forbidden))


def test_the_contract_imports_no_part_of_writeup_and_no_torch():
    parts = ("backend", "microservices", "stack", "genres", "loadtest", "benchmarks", "tests", "torch")
    assert imports_of("contract"), "contract/ has no modules"
    assert offenders("contract", parts) == []


def test_the_backend_imports_nothing_from_the_microservice():
    assert offenders("backend", ("microservices",)) == []


def test_documents_do_not_import_accounts():
    assert offenders("backend/documents", ("backend.accounts",)) == []
