"""The pytest plugin, as a client author uses it: the documented example passes, and a
test that catches a client bug fails for the right reason."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_with_musicsim.py"


def test_the_documented_example_passes(pytester):
    pytester.makepyfile(test_example=EXAMPLE.read_text(encoding="utf-8"))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=3)


def test_helpers_drive_the_simulator_and_a_broken_client_fails(pytester):
    pytester.makepyfile(test_helpers='''
        import json, urllib.request

        def poll(musicsim, task_id, key):
            request = urllib.request.Request(
                f"{musicsim.base_url('evolink')}/v1/tasks/{task_id}",
                headers={"Authorization": f"Bearer {key}"})
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())

        def submit(musicsim, key, prompt):
            request = urllib.request.Request(
                f"{musicsim.base_url('evolink')}/v1/audios/generations", method="POST",
                data=json.dumps({"model": "suno-v4", "custom_mode": False,
                                 "instrumental": False, "prompt": prompt}).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request) as response:
                return json.loads(response.read())["id"]

        def test_accounts_clock_and_journal(musicsim):
            key = musicsim.account(credits=100)
            task_id = submit(musicsim, key, "hello")
            assert musicsim.balance(key) == 80  # 20 held for the song
            assert musicsim.grant(key, 5)["credits"] == 85
            before = musicsim.clock.now()
            musicsim.clock.advance(400)
            assert musicsim.clock.now() == before + 400
            assert poll(musicsim, task_id, key)["status"] == "completed"
            assert [t["id"] for t in musicsim.tasks(provider="evolink")] == [task_id]
            assert len(musicsim.journal(provider="evolink", method="POST")) == 1

        def test_faults_scenarios_outcomes_and_webhooks(musicsim):
            rule = musicsim.fault(match={"provider": "evolink"}, action={"status": 503})
            assert rule.startswith("fault_")
            musicsim.clear_faults()
            assert musicsim.admin("GET", "/faults")["rules"] == []
            musicsim.scenario("outage", provider="sunor")
            assert musicsim.admin("GET", "/faults")["rules"]
            task_id = submit(musicsim, musicsim.api_key, "settled by hand")
            musicsim.settle(task_id, "fail", reason="content_moderation")
            assert musicsim.task(task_id)["status"] == "failed"
            assert poll(musicsim, task_id, musicsim.api_key)["status"] == "failed"
            stats = musicsim.journal_stats(provider="evolink")
            assert stats["count"] == 2
            assert musicsim.webhooks() == []

        def test_each_test_starts_clean(musicsim):
            assert musicsim.tasks() == [] and musicsim.journal() == []

        def test_a_client_that_ignores_failure(musicsim):
            musicsim.fault(match={"provider": "evolink"}, action={"task": "fail"})
            task_id = submit(musicsim, musicsim.api_key, "doomed")
            musicsim.clock.advance(400)
            # the "client" here wrongly assumes every song completes
            assert poll(musicsim, task_id, musicsim.api_key)["status"] == "completed"
    ''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*test_a_client_that_ignores_failure*",
                                 "*AssertionError*"])
