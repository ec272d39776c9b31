"""Guideline accuracy: precision and recall of every rule on the labelled set in tests/data.

Target: precision ≥ 0.98 and recall ≥ 0.95 for every blocking rule. ``--mistakes`` lists each
message the rules got wrong, with what was missed and what was found in excess.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from marketmsg.policy import evaluation, guidelines  # noqa: E402

EVALUATION_SET = ROOT / "tests" / "data" / "guidelines_eval.tsv"
PRECISION, RECALL = 0.98, 0.95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", type=Path, default=EVALUATION_SET, help="labelled TSV file")
    parser.add_argument("--mistakes", action="store_true", help="list the messages the rules got wrong")
    args = parser.parse_args()
    rules = guidelines.load()
    blocking = [rule for rule, severity in rules.severity.items() if severity == guidelines.BLOCK]
    examples = evaluation.read(args.set)
    report = evaluation.evaluate(examples, rules.severity, lambda text, html: guidelines.check(text, html))
    print(f"{report.examples} labelled messages from {args.set}")
    print(
        f"{'rule':<15} {'severity':<8} {'msgs':>5} {'TP':>4} {'FP':>4} {'FN':>4} "
        f"{'precision':>9} {'recall':>7}"
    )
    failing = []
    for rule, score in report.scores.items():
        labelled = sum(rule in e.expected for e in examples)
        meets = score.precision >= PRECISION and score.recall >= RECALL
        if rules.severity[rule] == guidelines.BLOCK and not meets:
            failing.append(rule)
        mark = "✔" if meets else "✘"
        print(
            f"{rule:<15} {rules.severity[rule]:<8} {labelled:>5} {score.true_positives:>4} "
            f"{score.false_positives:>4} {score.false_negatives:>4} {score.precision:>9.3f} "
            f"{score.recall:>7.3f} {mark}"
        )
    print(f"{len(report.mistakes)} message(s) with a mistake")
    if args.mistakes:
        for example, missed, extra in report.mistakes:
            print(
                f"  line {example.line}: missed {sorted(missed) or '-'}, extra {sorted(extra) or '-'}: "
                f"{(example.text or example.html)[:90]!r}"
            )
    blocking_ok = [r for r in blocking if r not in failing]
    print(
        f"target (precision ≥ {PRECISION}, recall ≥ {RECALL}) met by {len(blocking_ok)} "
        f"of {len(blocking)} blocking rules" + (f"; not by {', '.join(failing)}" if failing else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
