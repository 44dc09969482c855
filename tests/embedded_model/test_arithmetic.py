"""The arithmetic corpus generator (scripts/embedded_model/arithmetic.py): every step of every
trace is correct arithmetic, the final answers are right, difficulty labels mean what they say,
and a seed always gives the same problems."""
import re

import arithmetic

STEP = re.compile(r"^(\d+)([+*-])(\d+)(?:([+])(\d+))?=(\d+)")


def rows(count=400, seed=3, max_digits=6):
    return arithmetic.generate(count, seed, max_digits)


def test_every_step_is_correct_arithmetic():
    checked = 0
    for row in rows():
        for step in row["solution"].split(". "):
            m = STEP.match(step)
            if not m:
                continue
            x, op, y, _, extra, result = m.groups()
            x, y, result = int(x), int(y), int(result)
            value = {"+": x + y, "-": x - y, "*": x * y}[op] + (int(extra) if extra else 0)
            assert value == result, (row["prompt"], step)
            checked += 1
    assert checked > 1000


def test_answers_are_right():
    for row in rows():
        question = row["prompt"][len("Q: "):-len(" = ?")]
        assert int(row["answer"]) == eval(question), row  # the question is plain integer arithmetic
        assert row["solution"].endswith(f"So {question} = {row['answer']}.")


def test_difficulty_labels():
    for row in rows():
        assert row["familiar"] == (row["digits"] <= arithmetic.FAMILIAR_DIGITS)
    assert arithmetic.add_trace(478, 356)[1] == 2   # 8+6 carries, 7+5+1 carries, 4+3+1 does not
    assert arithmetic.add_trace(999, 1)[1] == 3
    assert arithmetic.add_trace(123, 456)[1] == 0
    assert arithmetic.sub_trace(1000, 1)[1] == 3    # borrows through every zero
    assert {r["op"] for r in rows()} == {"add", "sub", "mul", "expr"}


def test_a_seed_always_gives_the_same_problems():
    assert rows(seed=5) == rows(seed=5)
    assert rows(seed=5) != rows(seed=6)
    assert len({r["id"] for r in rows()}) == len(rows())


def test_slipped_traces_forget_carries_and_stay_consistent():
    """A slipped trace is a person's wrong trace: each step is true arithmetic on what was written,
    and every forgotten carry or borrow makes the final answer wrong (add and mul lose c * 10^i, sub
    gains 10^i, so the errors of one trace never cancel)."""
    import random
    rng, slipped, total_uses = random.Random(11), 0, 0
    for row in rows(count=600, seed=9, max_digits=4):
        assert arithmetic.slipped_solution(row, 0.0, rng) == (row["solution"], 0)
        solution, forgotten = arithmetic.slipped_solution(row, 0.3, rng)
        question = row["prompt"][len("Q: "):-len(" = ?")]
        written = solution.rsplit(f"So {question} = ", 1)[1].rstrip(".")
        for step in solution.split(". "):
            m = STEP.match(step)
            if m:
                x, op, y, _, extra, result = m.groups()
                assert {"+": int(x) + int(y), "-": int(x) - int(y), "*": int(x) * int(y)}[op] + int(extra or 0) \
                    == int(result), (row["prompt"], step)
        assert (written == row["answer"]) == (forgotten == 0), (row["prompt"], solution)
        assert forgotten <= arithmetic.carry_uses(row)
        slipped += forgotten
        total_uses += arithmetic.carry_uses(row)
    assert 0.25 < slipped / total_uses < 0.35  # each use forgotten with probability 0.3


def test_carry_uses_counts_the_chances_to_slip():
    assert arithmetic.carry_uses({"prompt": "Q: 478 + 356 = ?"}) == 2   # two columns receive a carry
    assert arithmetic.carry_uses({"prompt": "Q: 123 + 456 = ?"}) == 0
    assert arithmetic.carry_uses({"prompt": "Q: 1000 - 1 = ?"}) == 3    # the borrow moves through each zero
    assert arithmetic.carry_uses({"prompt": "Q: 237 * 4 = ?"}) == 2     # 3*4+2 and 2*4+1
    assert arithmetic.operands_of("Q: (12 + 5) * 3 = ?") == ("expr", (12, 5, 3))
