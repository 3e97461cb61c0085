"""Stage 1 and storage: what is found under a source, with which mask, and which keys are refused."""

import numpy as np
import pytest

from inpaint_core.discover import discover, output_key, read_mask_list
from inpaint_core.errors import UnsafeKeyError
from inpaint_core.storage import Location, safe_key

from .collections import png_bytes, write

IMG = png_bytes(np.zeros((8, 8, 3), np.uint8))


@pytest.mark.parametrize("key", ["../x.png", "a/../../x.png", "/etc/passwd", "a\\..\\x.png", "", "a/\x00.png"])
def test_unsafe_keys_are_refused(key):
    with pytest.raises(UnsafeKeyError):
        safe_key(key)


def test_destination_paths_cannot_escape(tmp_path):
    dest = Location(str(tmp_path / "dest"))
    with pytest.raises(UnsafeKeyError):
        dest.write_atomic("images/../../evil.png", b"x")
    assert not (tmp_path / "evil.png").exists()


def test_discovery_finds_images_masks_and_skips_the_rest(tmp_path):
    src = tmp_path / "src"
    write(src, "a.png", IMG)
    write(src, "a_mask.png", IMG)                  # sibling mask: not an input itself
    write(src, "sub/b.jpg", IMG)
    write(src, "masks/sub/b.png", IMG)             # parallel masks tree
    write(src, "sub/c.webp", IMG)                  # no mask: left to alpha/detection
    write(src, "notes.txt", b"hello")
    write(src, ".DS_Store", b"junk")
    write(src, "dup/d.png", IMG)
    write(src, "dup/d.jpg", IMG)                   # same output name as d.png
    write(src, "out/restored.png", IMG)            # the destination inside the source
    items = {i.image_id: i for i in discover(Location(str(src)), exclude=(Location(str(src / "out")),))}

    assert set(items) == {"a.png", "sub/b.jpg", "sub/c.webp", "notes.txt", "dup/d.jpg", "dup/d.png"}
    assert items["a.png"].mask_source == "sibling" and items["a.png"].mask_uri.endswith("/a_mask.png")
    assert items["sub/b.jpg"].mask_source == "masks_tree" and items["sub/b.jpg"].mask_uri.endswith("masks/sub/b.png")
    assert items["sub/c.webp"].mask_uri is None and items["sub/c.webp"].is_image
    assert not items["notes.txt"].is_image and "not an image" in items["notes.txt"].skip_reason
    assert "collide" in items["dup/d.png"].error and items["dup/d.jpg"].is_image


def test_order_is_stable(tmp_path):
    for k in ["z.png", "a.png", "m/x.png", "b/y.png"]:
        write(tmp_path, k, IMG)
    first = [i.image_id for i in discover(Location(str(tmp_path)))]
    assert first == [i.image_id for i in discover(Location(str(tmp_path)))]
    assert sorted(first) == sorted(["z.png", "a.png", "m/x.png", "b/y.png"])


def test_mask_list_csv_and_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    write(tmp_path, "src/one.png", IMG)
    write(tmp_path, "lists/m1.png", IMG)
    (tmp_path / "lists" / "pairs.csv").write_text("image,mask\none.png,m1.png\n")
    pq.write_table(pa.table({"image": ["one.png"], "mask": ["m1.png"]}), tmp_path / "lists" / "pairs.parquet")
    for name in ("pairs.csv", "pairs.parquet"):
        mapping = read_mask_list(str(tmp_path / "lists" / name))
        (item,) = discover(Location(str(tmp_path / "src")), mask_list=mapping)
        assert item.mask_source == "list" and item.mask_uri.endswith("lists/m1.png")


def test_mask_list_entries_cannot_escape(tmp_path):
    (tmp_path / "pairs.csv").write_text("image,mask\none.png,../../etc/shadow\n")
    with pytest.raises(UnsafeKeyError):
        read_mask_list(str(tmp_path / "pairs.csv"))


def test_output_key_replaces_extension():
    assert output_key("a/b.photo.JPG", "png") == "a/b.photo.png"
    assert output_key("x.tif", "jpeg") == "x.jpg"


@pytest.mark.parametrize("dest", ["src", ".", "src/.."])
def test_destination_may_not_contain_the_source(tmp_path, dest):
    from inpaint_core.storage import check_source_and_dest

    with pytest.raises(UnsafeKeyError, match="contains the source"):
        check_source_and_dest(Location(str(tmp_path / "src")), Location(str(tmp_path / dest)))
    check_source_and_dest(Location(str(tmp_path / "src")), Location(str(tmp_path / "src" / "out")))


def test_file_urls_and_plain_paths_list_the_same(tmp_path):
    write(tmp_path, "a/b.png", IMG)
    plain = [i.image_id for i in discover(Location(str(tmp_path)))]
    url = [i.image_id for i in discover(Location(tmp_path.as_uri()))]
    assert plain == url == ["a/b.png"]


def test_readme_documents_the_current_manifest_schema():
    import pathlib

    from inpaint_core.manifest import schema_markdown

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    assert schema_markdown() in readme, "README's manifest table is stale: paste `inpaint schema` into it"
