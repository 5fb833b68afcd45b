"""One tokenizer for every model that reads words; --encoding; labels as given; errors
naming the right sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiddenstate import InputError, RecursiveAutoencoder, _serialize, load
from hiddenstate.cli import main
from hiddenstate.datasets._lines import check_encoding, read_labels, read_lines
from hiddenstate.estimators._tokens import as_token_sequences, tokenize

TINY = ["--n-components", "4", "--max-iter", "1", "--random-state", "0"]


@pytest.mark.parametrize(("text", "tokens"), [
    ("Absolutely BRILLIANT!", ["absolutely", "brilliant", "!"]),
    ("absolutely brilliant !", ["absolutely", "brilliant", "!"]),
    ("Don't miss it... (really)", ["don't", "miss", "it", "...", "(", "really", ")"]),
    ('"Great," she said?!', ['"', "great", ",", '"', "she", "said", "?", "!"]),
    ("it cost $9.50, 1,000 times.", ["it", "cost", "$9.50", ",", "1,000", "times", "."]),
    ("the 21st century's co-writer/director -- [a] '70s", ["the", "21st", "century's",
                                                          "co-writer/director", "--", "[a]",
                                                          "'70s"]),
    ("\ufeffWait\u2026 \u201cwow\u201d", ["wait", "\u2026", "\u201c", "wow", "\u201d"]),
    ("dull\x85and", ["dull\x85and"]),  # 0x85 of latin-1 text is no blank
])
def test_default_tokenizer(text, tokens):
    assert tokenize(text) == tokens


def test_whitespace_tokenizer_is_the_old_rule():
    assert tokenize("\ufeffAbsolutely BRILLIANT!", "whitespace") == ["Absolutely", "BRILLIANT!"]
    assert as_token_sequences(["A b!"]) == [["A", "b!"]]  # the sequence estimators' files
    assert as_token_sequences(["A b!"], tokenizer="default") == [["a", "b", "!"]]
    with pytest.raises(ValueError, match="unknown tokenizer 'x'"):
        tokenize("a", "x")


def test_rt_polarity_keeps_its_tokens(shared_data):
    """The rt-polarity text is lower-cased and tokenised already: the default tokenizer
    gives its tokens back, except for the few capitals outside ASCII the data kept."""
    from hiddenstate.datasets import load_rt_polarity

    sentences, _ = load_rt_polarity(shared_data / "rt-polarity")
    changed = [s for s in sentences if tokenize(" ".join(s)) != s]
    expected = [[w.lower() for w in s] for s in changed]
    assert [tokenize(" ".join(s)) for s in changed] == expected
    assert len(changed) == sum(any(w != w.lower() for w in s) for s in sentences) == 4


def _rae(**kw):
    return RecursiveAutoencoder(n_components=4, max_iter=1, random_state=0, **kw)


SENTENCES = ["a fine film !", "a dull film .", "fine and good", "dull and bad"]
LABELS = ["positive", "negative", "positive", "negative"]


def test_rae_tokenizes_strings_and_stores_the_setting(tmp_path):
    est = _rae().fit(SENTENCES, LABELS)
    assert est.parse("A FINE film!") == est.parse("a fine film !")
    np.testing.assert_allclose(est.predict_proba(["Fine, GOOD."]),
                               est.predict_proba(["fine , good ."]), rtol=1e-6)
    est.save(tmp_path / "m.hs")
    loaded = load(tmp_path / "m.hs")
    assert loaded.tokenizer == "default"
    np.testing.assert_array_equal(loaded.predict_proba(["A FINE film!"]),
                                  est.predict_proba(["A FINE film!"]))
    ws = _rae(tokenizer="whitespace").fit(SENTENCES, LABELS)
    assert sorted(_leaves(ws.parse("A FINE film!"))) == ["A", "FINE", "film!"]
    with pytest.raises(ValueError, match="tokenizer"):
        _rae(tokenizer="spaces").fit(SENTENCES, LABELS)


def _leaves(tree):
    return [tree] if isinstance(tree, str) else [w for t in tree for w in _leaves(t)]


def test_rae_file_without_the_setting_loads_as_whitespace(tmp_path):
    """A model saved before the tokenizer setting splits on whitespace and keeps case."""
    est = _rae(tokenizer="whitespace").fit(SENTENCES, LABELS)
    est.save(tmp_path / "new.hs")
    name, config, tensors = _serialize.read(tmp_path / "new.hs")
    del config["params"]["tokenizer"]
    _serialize.save(tmp_path / "old.hs", name, config, tensors)
    old = load(tmp_path / "old.hs")
    assert old.tokenizer == "whitespace"
    assert sorted(_leaves(old.parse("A FINE film!"))) == ["A", "FINE", "film!"]
    np.testing.assert_array_equal(old.predict_proba(["A FINE film!"]),
                                  est.predict_proba(["A FINE film!"]))


def test_rae_errors_name_the_sentence():
    est = _rae().fit(SENTENCES, LABELS)
    with pytest.raises(InputError, match="sentence 2 is an empty sentence"):
        est.predict(["good", "bad", "  "])


def test_encoding(tmp_path):
    path = tmp_path / "l1.txt"
    path.write_bytes("caf\u00e9 fine\nna\u00efve dull\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"l1.txt, line 1: not UTF-8 text \(byte 0xe9\)"):
        read_lines(path)
    assert read_lines(path, encoding="latin-1") == ["caf\u00e9 fine", "na\u00efve dull"]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n\xff\xfe\x00bad\n")
    with pytest.raises(InputError, match=r"bad.txt, line 2: not ascii text"):
        read_lines(bad, encoding="ascii")
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbfpositive\nnegative\n")
    assert read_labels(bom) == ["positive", "negative"]
    utf16 = tmp_path / "u16.txt"
    utf16.write_bytes("un\nd\u00e9ux\n".encode("utf-16"))
    assert read_lines(utf16, encoding="utf-16") == ["un", "d\u00e9ux"]
    for name in ("no-such-codec", "rot13"):
        with pytest.raises(InputError, match=repr(name)):
            check_encoding(name)


@pytest.fixture
def latin1_files(tmp_path):
    data, labels = tmp_path / "reviews.txt", tmp_path / "labels.txt"
    # 9 distinct tokens in 4 lines, as SENTENCES and WORDS below: the same shapes, so the
    # fits share compiled programs
    data.write_bytes("Caf\u00e9 FINE!\nna\u00efve dull.\nfine and good\ndull and bad\n"
                     .encode("latin-1"))
    labels.write_text("good\nbad\ngood\nbad\n")
    return str(data), str(labels)


def test_cli_rae_encoding_labels_and_errors(latin1_files, tmp_path, capsys):
    data, labels = latin1_files
    model = str(tmp_path / "m.hs")
    assert main(["rae", "fit", data, "--labels", labels, "--out", model, *TINY]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("reviews.txt, line 1: not UTF-8 text (byte 0xe9)") and "\n" not in err
    assert main(["rae", "fit", data, "--labels", labels, "--out", model, *TINY,
                 "--encoding", "klingon"]) == 2
    assert "unknown encoding 'klingon'" in capsys.readouterr().err
    assert main(["rae", "fit", data, "--labels", labels, "--out", model, *TINY,
                 "--encoding", "latin-1"]) == 0
    capsys.readouterr()
    assert main(["rae", "predict", model, "caf\u00e9 fine !", "Dull."]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == load(model).predict(["caf\u00e9 fine !", "Dull."]).tolist()
    assert {r["label"] for r in rows} <= {"good", "bad"}
    assert rows[1]["tree"] == ["dull", "."]
    assert main(["rae", "predict", model, "good", "fine", "...", " "]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing printed before the error
    assert "SENTENCE 4 (' ') has no words" in captured.err


def test_cli_rae_polarity_folder_labels(tmp_path, capsys):
    folder = tmp_path / "rt"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_bytes(b"a fine film !\nfine and good\n")  # SENTENCES
    (folder / "rt-polarity.neg").write_bytes(b"a dull film .\ndull and bad\n")
    model = str(tmp_path / "m.hs")
    assert main(["rae", "fit", str(folder), "--out", model, *TINY]) == 0
    assert load(model).classes_.tolist() == ["negative", "positive"]
    assert main(["rae", "predict", model, "fine"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in {"negative", "positive"}


def test_cli_classify_and_seqae_encoding(latin1_files, tmp_path, capsys):
    data, labels = latin1_files
    model = str(tmp_path / "c.hs")
    small = ["--hidden-size", "4", "--embedding-dim", "4", "--max-iter", "1",
             "--random-state", "0"]
    assert main(["classify", "fit", data, "--labels", labels, "--out", model, *small]) == 2
    assert "line 1: not UTF-8 text" in capsys.readouterr().err
    assert main(["classify", "fit", data, "--labels", labels, "--out", model, *small,
                 "--encoding", "latin-1"]) == 0
    assert "caf\u00e9" in load(model).vocabulary_.tokens  # the default tokenizer lower-cases
    capsys.readouterr()
    assert main(["classify", "predict", model, "--file", data, "--encoding", "latin-1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    ae = str(tmp_path / "ae.hs")
    assert main(["seqae", "fit", data, "--out", ae, "--n-components", "4", "--max-iter", "1",
                 "--embedding-dim", "4", "--random-state", "0", "--encoding", "latin-1"]) == 0
    assert main(["seqae", "score", ae, data, "--encoding", "utf-8"]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


# -- the sequence estimators that read words ----------------------------------------------------

WORDS = ["a BRILLIANT film!", "a dull film.", "brilliant and good", "dull and bad"]
SMALL = dict(hidden_size=4, embedding_dim=4, max_iter=1, random_state=0)


def _classifier(**kw):
    from hiddenstate import SequenceClassifier

    return SequenceClassifier(**SMALL, **kw).fit(WORDS, LABELS)


def _ids(est, texts):
    return [s.tolist() for s in est._read(texts, reset=False)]


def test_sequence_classifier_tokenizes_strings():
    """Case and punctuation no longer make two words of one: ``"Absolutely BRILLIANT!"``
    reads as ``absolutely brilliant !``; with ``"whitespace"`` they differ."""
    loud, plain = ["Absolutely BRILLIANT!"], ["absolutely brilliant !"]
    est = _classifier()
    assert est.tokenizer == "default"
    assert sorted(est.vocabulary_.tokens) == sorted({"a", "brilliant", "film", "!", "dull",
                                                     ".", "and", "good", "bad"})
    assert _ids(est, loud) == _ids(est, plain) == [[0, est.vocabulary_.index["brilliant"],
                                                    est.vocabulary_.index["!"]]]
    np.testing.assert_array_equal(est.predict_proba(loud), est.predict_proba(plain))
    np.testing.assert_array_equal(est.transform(loud), est.transform(plain))
    assert est.score(["A brilliant FILM!", "Dull and BAD."], LABELS[:2]) == est.score(
        ["a brilliant film !", "dull and bad ."], LABELS[:2])
    # token lists are used as given: no lower-casing
    assert _ids(est, [["Brilliant", "!"]])[0][0] == 0
    ws = _classifier(tokenizer="whitespace")
    assert "BRILLIANT" in ws.vocabulary_.index and "film!" in ws.vocabulary_.index
    assert _ids(ws, loud) != _ids(ws, plain)
    assert not np.array_equal(ws.predict_proba(loud), ws.predict_proba(plain))
    # analyzer='char': every character as it is, whatever the tokenizer
    chars = _classifier(analyzer="char")
    assert "B" in chars.vocabulary_.index and " " in chars.vocabulary_.index
    with pytest.raises(ValueError, match="tokenizer"):
        _classifier(tokenizer="spaces")


def test_sequence_regressor_and_autoencoder_take_the_setting():
    from hiddenstate import SequenceAutoencoder, SequenceRegressor

    reg = SequenceRegressor(**SMALL).fit(WORDS, [1.0, 0.0, 1.0, 0.0])
    assert reg.tokenizer == "default" and "film!" not in reg.vocabulary_.index
    np.testing.assert_array_equal(reg.predict(["A FILM!"]), reg.predict(["a film !"]))
    ae = SequenceAutoencoder(4, embedding_dim=4, max_iter=1, random_state=0).fit(WORDS)
    assert ae.tokenizer == "default" and "BRILLIANT" not in ae.vocabulary_.index
    np.testing.assert_array_equal(ae.transform(["A FILM!"]), ae.transform(["a film !"]))
    np.testing.assert_array_equal(ae.reconstruction_error(["A FILM!"]),
                                  ae.reconstruction_error(["a film !"]))
    assert len(ae.predict(["A FILM!"])[0]) == 3
    ws = SequenceAutoencoder(4, embedding_dim=4, max_iter=1, random_state=0,
                             tokenizer="whitespace").fit(WORDS)
    assert "BRILLIANT" in ws.vocabulary_.index
    assert len(ws.predict(["A FILM!"])[0]) == 2


def _without_tokenizer(est, tmp_path):
    """``est`` saved as a file from before the tokenizer setting (the setting deleted)."""
    est.save(tmp_path / "new.hs")
    name, config, tensors = _serialize.read(tmp_path / "new.hs")
    assert config["params"]["tokenizer"] == est.tokenizer
    del config["params"]["tokenizer"]
    _serialize.save(tmp_path / "old.hs", name, config, tensors)
    return load(tmp_path / "old.hs")


def test_sequence_files_without_the_setting_load_as_whitespace(tmp_path):
    """Classifiers, regressors and autoencoders saved before the setting split on
    whitespace and keep case, as they did; files saved now keep their setting."""
    from hiddenstate import SequenceAutoencoder, SequenceRegressor

    texts = ["A BRILLIANT film!", "a brilliant film !"]
    est = _classifier(tokenizer="whitespace")
    old = _without_tokenizer(est, tmp_path)
    assert old.tokenizer == "whitespace"
    np.testing.assert_array_equal(old.predict_proba(texts), est.predict_proba(texts))
    assert _ids(old, texts[:1]) == _ids(est, texts[:1])
    reg = SequenceRegressor(**SMALL, tokenizer="whitespace").fit(WORDS, [1.0, 0.0, 1.0, 0.0])
    assert _without_tokenizer(reg, tmp_path).tokenizer == "whitespace"
    ae = SequenceAutoencoder(4, embedding_dim=4, max_iter=1, random_state=0,
                             tokenizer="whitespace").fit(WORDS)
    old_ae = _without_tokenizer(ae, tmp_path)
    assert old_ae.tokenizer == "whitespace"
    np.testing.assert_array_equal(old_ae.transform(texts), ae.transform(texts))
    # a file saved now keeps its setting
    new = _classifier()
    new.save(tmp_path / "default.hs")
    back = load(tmp_path / "default.hs")
    assert back.tokenizer == "default"
    np.testing.assert_array_equal(back.predict_proba(texts), new.predict_proba(texts))


def test_init_from_needs_the_same_tokenizer(tmp_path):
    """A pretrained autoencoder's vocabulary holds the tokens of its rule: a classifier
    splitting words by another is refused, naming both."""
    from hiddenstate import SequenceAutoencoder, SequenceClassifier, SequenceModel

    sa = SequenceAutoencoder(4, embedding_dim=4, max_iter=1, random_state=0,
                             tokenizer="whitespace").fit(WORDS)
    with pytest.raises(ValueError, match=r"init_from: the pretrained SequenceAutoencoder has "
                                         r"tokenizer='whitespace' \(this model: 'default'\)"):
        SequenceClassifier(**SMALL, init_from=sa).fit(WORDS, LABELS)
    est = SequenceClassifier(**SMALL, init_from=sa, tokenizer="whitespace").fit(WORDS, LABELS)
    assert est.vocabulary_ == sa.vocabulary_
    # an old autoencoder file is "whitespace": a default classifier is refused
    old = _without_tokenizer(sa, tmp_path)
    with pytest.raises(ValueError, match="tokenizer='whitespace'"):
        SequenceClassifier(**SMALL, init_from=str(tmp_path / "old.hs")).fit(WORDS, LABELS)
    assert old.tokenizer == "whitespace"
    # characters: no tokenizer applies, so none has to agree
    chars = [list(s) for s in WORDS]
    sa_chars = SequenceAutoencoder(4, embedding_dim=4, max_iter=1, random_state=0,
                                   tokenizer="whitespace").fit(chars)
    SequenceClassifier(**SMALL, analyzer="char", init_from=sa_chars).fit(WORDS, LABELS)
    # a language model reads token lists and has no tokenizer to compare
    lm = SequenceModel("lstm", hidden_size=4, embedding_dim=4, max_iter=1,
                       random_state=0).fit([tokenize(s) for s in WORDS])
    SequenceClassifier(**SMALL, init_from=lm).fit(WORDS, LABELS)


def _stored_tokenizer(path):
    return _serialize.read(path)[1]["params"]["tokenizer"]


def test_cli_classify_tokenizer(tmp_path, capsys):
    data, labels = tmp_path / "reviews.txt", tmp_path / "labels.txt"
    data.write_text("\n".join(WORDS) + "\n")
    labels.write_text("\n".join(LABELS) + "\n")
    small = ["--hidden-size", "4", "--embedding-dim", "4", "--max-iter", "1",
             "--random-state", "0"]
    fit = ["classify", "fit", str(data), "--labels", str(labels), *small]
    ws, default = str(tmp_path / "ws.hs"), str(tmp_path / "default.hs")
    assert main([*fit, "--out", ws, "--tokenizer", "whitespace"]) == 0
    assert main([*fit, "--out", default]) == 0
    assert _stored_tokenizer(ws) == "whitespace" and _stored_tokenizer(default) == "default"
    assert "film!" in load(ws).vocabulary_.index and "film!" not in load(default).vocabulary_.index
    capsys.readouterr()
    assert main(["classify", "predict", default, "--proba", "Absolutely BRILLIANT!",
                 "absolutely brilliant !"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 3 and rows[1] == rows[2]
    assert main(["classify", "predict", ws, "--proba", "Absolutely BRILLIANT!",
                 "absolutely brilliant !"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1] != rows[2]
    assert main([*fit, "--out", str(tmp_path / "x.hs"), "--tokenizer", "spaces"]) == 2
    assert "spaces" in capsys.readouterr().err
    # pretraining splits the words by the classifier's tokenizer; --init-from adopts the
    # autoencoder's unless --tokenizer is typed, and refuses another
    sa = str(tmp_path / "sa.hs")
    assert main([*fit, "--out", str(tmp_path / "p.hs"), "--tokenizer", "whitespace",
                 "--pretrain", "sequence-ae", "--pretrain-max-iter", "1",
                 "--pretrain-out", sa]) == 0
    assert _stored_tokenizer(sa) == "whitespace" and "film!" in load(sa).vocabulary_.index
    assert main([*fit, "--out", str(tmp_path / "i.hs"), "--init-from", sa]) == 0
    assert _stored_tokenizer(tmp_path / "i.hs") == "whitespace"
    capsys.readouterr()
    assert main([*fit, "--out", str(tmp_path / "j.hs"), "--init-from", sa,
                 "--tokenizer", "default"]) == 2
    assert "tokenizer='whitespace' (this model: 'default')" in capsys.readouterr().err


def test_cli_seqae_tokenizer(tmp_path, capsys):
    data = tmp_path / "lines.txt"
    data.write_text("\n".join(WORDS) + "\n")
    small = ["--n-components", "4", "--embedding-dim", "4", "--max-iter", "1",
             "--random-state", "0"]
    ws, default = str(tmp_path / "ws.hs"), str(tmp_path / "default.hs")
    assert main(["seqae", "fit", str(data), "--out", ws, *small, "--tokenizer",
                 "whitespace"]) == 0
    assert main(["seqae", "fit", str(data), "--out", default, *small]) == 0
    assert _stored_tokenizer(ws) == "whitespace" and _stored_tokenizer(default) == "default"
    assert "BRILLIANT" in load(ws).vocabulary_.index
    assert "brilliant" in load(default).vocabulary_.index
    loud, plain = tmp_path / "loud.txt", tmp_path / "plain.txt"
    loud.write_text("Absolutely BRILLIANT!\n")
    plain.write_text("absolutely brilliant !\n")
    capsys.readouterr()
    scores = {}
    for model in (ws, default):
        for path in (loud, plain):
            assert main(["seqae", "score", model, str(path)]) == 0
            scores[model, path] = capsys.readouterr().out
    assert scores[default, loud] == scores[default, plain]
    assert scores[ws, loud] != scores[ws, plain]
    series = tmp_path / "s.csv"
    series.write_text("1,2\n3,4\n")
    assert main(["seqae", "fit", str(series), "--out", str(tmp_path / "s.hs"),
                 "--tokenizer", "whitespace"]) == 2
    assert "--tokenizer is for text" in capsys.readouterr().err
    assert main(["seqae", "fit", str(data), "--out", str(tmp_path / "c.hs"), "--analyzer",
                 "char", "--tokenizer", "whitespace"]) == 2
    assert "--tokenizer splits words" in capsys.readouterr().err
