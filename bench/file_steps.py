#!/usr/bin/env python3
"""1,000 file.write steps: apply and rollback milliseconds per step, and `cutover plan` time of
a 1,000-step plan (SPEC §9: <= 3 ms per step each way, fsync included; plan <= 100 ms).

The hand-run baseline in the same run: a shell loop doing what each step does durably
(write temp, fsync, rename) for the same 1,000 files, via coreutils `dd conv=fsync` + `mv`.
Apply and rollback are timed from the journal's own timestamps (run.start → the failing
check; rollback.start → run.end), so process start-up is not counted against the steps.

usage: bench/file_steps.py [--cutover build/cutover] [--steps 1000] [--rounds 3]
"""
import argparse, datetime, json, os, shutil, subprocess, sys, tempfile, time


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def journal(state):
    runs = sorted(os.listdir(os.path.join(state, "runs")))
    with open(os.path.join(state, "runs", runs[-1], "journal.jsonl")) as f:
        return [json.loads(line[9:]) for line in f]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cutover", default=os.path.join(os.path.dirname(__file__), "..", "build", "cutover"))
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    exe = os.path.abspath(a.cutover)
    n = a.steps
    results = {"apply": [], "rollback": [], "plan": [], "hand": []}
    for rnd in range(a.rounds):
        d = tempfile.mkdtemp(prefix="cutover-bench-")
        try:
            target = os.path.join(d, "etc")
            os.makedirs(target)
            for i in range(n):  # half exist (restored on undo), half are new (removed on undo)
                if i % 2 == 0:
                    with open(os.path.join(target, f"f{i}.conf"), "w") as f:
                        f.write(f"old {i}\n")
            steps = [f"  - id: w{i}\n    type: file.write\n    with: {{ path: {target}/f{i}.conf, content: \"new {i}\\n\" }}\n"
                     for i in range(n)]
            fail = f"  - id: fail\n    type: check.file\n    with: {{ path: {d}/absent }}\n"
            plan = os.path.join(d, "plan.yaml")
            with open(plan, "w") as f:
                f.write("version: 1\nname: bench\nsteps:\n" + "".join(steps) + fail)
            state = os.path.join(d, "state")

            t0 = time.perf_counter()
            r = subprocess.run([exe, "plan", plan, "--no-checks", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            results["plan"].append((time.perf_counter() - t0) * 1000)
            assert r.returncode == 0, r.stderr

            r = subprocess.run([exe, "apply", plan, "--state", state, "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            assert r.returncode == 3, (r.returncode, r.stderr)
            recs = journal(state)
            start = next(ts(x["ts"]) for x in recs if x["event"] == "run.start")
            failed = next(ts(x["ts"]) for x in recs if x["event"] == "step.fail")
            rb = next(ts(x["ts"]) for x in recs if x["event"] == "rollback.start")
            end = next(ts(x["ts"]) for x in recs if x["event"] == "run.end")
            results["apply"].append((failed - start) * 1000 / n)
            results["rollback"].append((end - rb) * 1000 / n)
            for i in range(n):  # the rollback really put everything back
                p = os.path.join(target, f"f{i}.conf")
                assert (open(p).read() == f"old {i}\n") if i % 2 == 0 else not os.path.exists(p)

            # Hand-run: the same durable writes, one process pair per file.
            script = "".join(f"printf 'new {i}\\n' | dd of={target}/.f{i}.tmp conv=fsync status=none && mv {target}/.f{i}.tmp {target}/f{i}.conf\n" for i in range(n))
            t0 = time.perf_counter()
            subprocess.run(["bash"], input=(script + "sync " + target + "\n").encode(), check=True)
            results["hand"].append((time.perf_counter() - t0) * 1000 / n)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    med = {k: sorted(v)[len(v) // 2] for k, v in results.items()}
    print(f"file.write x{n}, {a.rounds} rounds (median):")
    print(f"  cutover apply     {med['apply']:.3f} ms/step   (target <= 3 ms)")
    print(f"  cutover rollback  {med['rollback']:.3f} ms/step   (target <= 3 ms, verified undo included)")
    print(f"  hand-run dd+mv    {med['hand']:.3f} ms/file")
    print(f"  ratio apply/hand  {med['apply'] / med['hand']:.2f}x")
    print(f"  cutover plan of a {n}-step plan: {med['plan']:.0f} ms   (target <= 100 ms)")


if __name__ == "__main__":
    sys.exit(main())
