def test_seed_story_loads_and_verifies(cli, examples):
    loaded = cli("load", str(examples / "seed-story.jsonl"), check=True)
    assert "loaded 58 new event(s)" in loaded.stdout
    verified = cli("audit", "verify", check=True)
    assert "58 entries" in verified.stdout
