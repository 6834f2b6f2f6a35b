from kubesync.errors import ManifestError, StalePlan, cut


def test_cut_keeps_short_text():
    assert cut("short", 10) == "short"


def test_cut_never_exceeds_the_limit():
    for n in (401, 5000, 123456):
        text = "x" * n
        out = cut(text, 400)
        assert len(out) == 400
        assert out.endswith(f"... ({n} chars)")


def test_manifest_error_lists_every_problem():
    e = ManifestError(["a.yaml:1: bad", "b.yaml:3: worse"])
    assert str(e) == "2 problems in the desired state; nothing was applied:\n  a.yaml:1: bad\n  b.yaml:3: worse"


def test_stale_plan_names_each_object():
    e = StalePlan(["v1 ConfigMap ns/a: changed"])
    assert "v1 ConfigMap ns/a: changed" in str(e)
    assert "kubesync plan" in str(e)
