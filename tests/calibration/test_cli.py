import pytest

from surge.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["calibrate", "--validate", "--out", "{tmp}/v"], "exactly one of --host"),
        (["calibrate", "--validate", "--start-app", "sqlite", "--levels", "1,2,4", "--out", "{tmp}/v"],
         "at least 3 fit levels"),
        (["calibrate", "--out", "{tmp}/p.toml"], "give a RUN_DIR"),
        (["calibrate", "{tmp}", "--validate", "--out", "{tmp}/v"], "not a RUN_DIR"),
        (["calibrate", "--validate", "--host", "http://127.0.0.1:9", "--levels", "1,2,4,8",
          "--out", "{tmp}/v"], "unreachable"),
        (["predict", "--profile", "{tmp}/missing.toml", "--load", "4"], "no such file"),
        (["predict", "--profile", "{here}", "--load", "4", "--replications", "0"], ">= 1"),
    ],
)  # fmt: skip
def test_bad_calibrate_and_predict_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    here = __file__  # an existing file, so that the parser gets to the option under test
    assert main([a.replace("{tmp}", str(tmp_path)).replace("{here}", here) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("surge: error:") and message in err
    assert len(err.splitlines()) == 1


def test_unparseable_levels_are_rejected_by_the_parser_in_one_line(capsys):
    assert main(["predict", "--profile", __file__, "--load", "4,x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("surge: error: argument --load:")
    assert "comma-separated integers" in err[0]
