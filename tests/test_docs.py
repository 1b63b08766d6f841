"""The README and docs stay navigable: short front page, links and config paths that resolve."""

import re
from pathlib import Path
from typing import Dict, List, Set

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 200

# [text](target) and ![alt](target); the text may span lines, the target has no spaces.
_LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
_HEADING = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
_FENCE = re.compile(r'^\s*```')
# A config path written in prose or in a command; brace and glob patterns are not one file.
_CONFIG_PATH = re.compile(r'(?<![\w/.-])configs/[\w./-]+\.py\b')


def doc_files() -> List[Path]:
    files = [REPO_ROOT / 'README.md', REPO_ROOT / 'CHANGELOG.md']
    files += sorted((REPO_ROOT / 'docs').rglob('*.md'))
    return [f for f in files if f.is_file()]


def _strip_code_blocks(text: str) -> str:
    """The text with fenced code blocks blanked (line numbers kept), so that sample code is not
    read as links."""
    out, fence = [], False
    for line in text.split('\n'):
        if _FENCE.match(line):
            fence = not fence
            out.append('')
            continue
        out.append('' if fence else line)
    return '\n'.join(out)


def heading_anchors(text: str) -> Set[str]:
    """GitHub's anchors of a markdown file's headings: lower case, punctuation dropped, spaces
    to hyphens, ``-1``, ``-2`` ... on repeats."""
    anchors: Set[str] = set()
    seen: Dict[str, int] = {}
    for line in _strip_code_blocks(text).split('\n'):
        match = _HEADING.match(line)
        if not match:
            continue
        title = re.sub(r'`|\*\*?|\[([^\]]*)\]\([^)]*\)', r'\1', match.group(2))
        slug = re.sub(r'[^\w\- ]', '', title.strip().lower()).replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f'{slug}-{count}')
    return anchors


def broken_links(path: Path) -> List[str]:
    """Relative links of ``path`` whose file, or whose anchor in a markdown file, is missing."""
    text = _strip_code_blocks(path.read_text(encoding='utf-8'))
    problems = []
    for target in _LINK.findall(text):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition('#')
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f'{target}: {dest} does not exist')
            continue
        if anchor and dest.suffix == '.md':
            if anchor not in heading_anchors(dest.read_text(encoding='utf-8')):
                problems.append(f'{target}: no heading with anchor #{anchor} in {dest.name}')
    return problems


def test_readme_is_short():
    lines = (REPO_ROOT / 'README.md').read_text(encoding='utf-8').count('\n')
    assert lines <= README_MAX_LINES, (
        f'README.md has {lines} lines; keep it under {README_MAX_LINES} and move detail to docs/en/'
    )


def test_docs_exist():
    names = {f.relative_to(REPO_ROOT).as_posix() for f in doc_files()}
    for name in (
        'docs/en/index.md',
        'docs/en/get_started.md',
        'docs/en/method.md',
        'docs/en/evaluation.md',
        'docs/en/experiments.md',
    ):
        assert name in names


@pytest.mark.parametrize('path', doc_files(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == []


@pytest.mark.parametrize('path', doc_files(), ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_config_paths_exist(path):
    text = path.read_text(encoding='utf-8')
    missing = sorted({c for c in _CONFIG_PATH.findall(text) if not (REPO_ROOT / c).is_file()})
    assert missing == [], f'{path.name} names configs that do not exist: {missing}'


def test_link_checker_finds_problems(tmp_path):
    """The checker itself: a missing file and a missing anchor are reported, good ones not."""
    (tmp_path / 'other.md').write_text('# Some Title, here\n\n## Pd and Fa\n')
    page = tmp_path / 'page.md'
    page.write_text(
        '[ok](other.md#some-title-here) [ok2](other.md#pd-and-fa)\n'
        '[gone](missing.md) [bad anchor](other.md#nothing)\n'
        '[web](https://example.org/x)\n'
        '```\n[not a link](nowhere.md)\n```\n'
    )
    problems = broken_links(page)
    assert len(problems) == 2
    assert any('missing.md' in p for p in problems)
    assert any('#nothing' in p for p in problems)
