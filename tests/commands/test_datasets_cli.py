"""`sslexp datasets`: every source, whether it is available here, in 100 columns."""

from click.testing import CliRunner

from sslexp.cli import main


def test_the_listing_fits_100_columns_and_names_every_source():
    result = CliRunner().invoke(main, ["datasets"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    names = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert names[1:] == ["cats_vs_dogs", "fashion_mnist", "digits", "folder:PATH"]
    assert any(line.startswith("digits") and "yes" in line for line in lines)


def test_prepare_names_the_unreadable_files_it_left_out(tmp_path):
    from tests.data.test_folder import write_images

    write_images(tmp_path / "pets", ["cat", "dog"], per_class=4)
    (tmp_path / "pets" / "dog" / "broken.jpg").write_bytes(b"no")
    result = CliRunner().invoke(
        main,
        [
            "datasets",
            "--prepare",
            f"folder:{tmp_path / 'pets'}",
            "--image-size",
            "8",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1 unreadable file left out (dog/broken.jpg" in result.output
