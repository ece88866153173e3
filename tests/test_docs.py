"""The repository's documentation: links resolve, nothing points outside, the README is short."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def tracked(pattern: str) -> list[Path]:
    """The tracked files matching a git pathspec (the worktree's, when git is at hand)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", pattern],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(ROOT.glob(f"**/{pattern.lstrip('*')}"))
    return [ROOT / line for line in out.splitlines() if (ROOT / line).is_file()]


def markdown_files() -> list[Path]:
    return [path for path in tracked("*.md") if "node_modules" not in path.parts]


def prose(text: str) -> str:
    """The text without its fenced code blocks, where brackets are code, not links."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(prose(path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def broken_links(path: Path) -> list[str]:
    """The relative links of a markdown file whose target file or heading does not exist."""
    problems = []
    for target in LINK.findall(prose(path.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            problems.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and linked.exists():
            if anchor in anchors(linked):
                continue
            problems.append(f"{target} (no such heading)")
    return problems


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_a_broken_link_or_anchor_is_caught(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# A heading: `with code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#a-heading-with-code) [gone](missing.md) [bad](other.md#nope)\n"
        "```\n[in code](ignored.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page) == ["missing.md (no such file)", "other.md#nope (no such heading)"]


def test_the_core_documents_exist() -> None:
    for name in ("README.md", "CONTRIBUTING.md", "SECURITY.md", "LICENSE", "docs/api.md"):
        assert (ROOT / name).is_file(), name
    assert {"docs/architecture.md", "docs/operations.md"} <= {
        str(path.relative_to(ROOT)) for path in markdown_files()
    }


OUTSIDE = re.compile(r"contract\s*§|\.\./shared|/work/shared")


@pytest.mark.parametrize(
    "path",
    [*markdown_files(), *tracked("*.py")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_nothing_points_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path == Path(__file__).resolve():
        text = text.replace(OUTSIDE.pattern, "")
    assert OUTSIDE.findall(text) == []


def test_the_readme_stays_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150


def test_the_webhooks_page_lists_the_event_types_that_occur() -> None:
    from commons.domain.deliveries import EVENT_ACTIONS

    text = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (`[a-z_`, ]+`) \| (`[a-z`, ]+`)", text, re.MULTILINE)
    listed = {
        (container, action)
        for containers, actions in rows
        for container in re.findall(r"`(\w+)`", containers)
        for action in re.findall(r"`(\w+)`", actions)
    }
    assert listed == {(c, action) for c, actions in EVENT_ACTIONS.items() for action in actions}
