"""docs/blocks.md is generated from the registry and must not drift from it."""
from pathlib import Path

from blocks.catalog import catalog_markdown
from blocks.registry import all_blocks

DOC = Path(__file__).resolve().parents[2] / "docs" / "blocks.md"


def test_catalogue_lists_every_block_with_its_paper():
    text = catalog_markdown()
    for block in all_blocks():
        assert f"### {block.name}\n" in text
        assert block.paper in text


def test_docs_catalogue_is_current():
    assert DOC.read_text() == catalog_markdown(), "regenerate with: python -m blocks.catalog > docs/blocks.md"

