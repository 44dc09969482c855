#!/usr/bin/python3
"""Arithmetic problems with step-by-step solution traces and controlled difficulty.

The corpus the embedded default model is trained and evaluated on (issue 4). Every problem records
what makes it hard, so the model card can report per level and control for each factor:

- op: add, sub, mul, or expr (a two-step expression such as (a + b) * c);
- digits: the largest operand's digit count;
- carries: the length of the longest carry (add) or borrow (sub) chain; for mul, the number of
  digit products that carried plus the carry chain of summing the partial products;
- familiar: whether every operand lies in the training range (digits <= FAMILIAR_DIGITS). Problems
  outside it are never trained on; the card compares them with familiar ones of equal difficulty.

Traces are written digit by digit, least significant first, the way the model is taught to work:

    Q: 478 + 356 = ?
    A: 8+6=14 write 4 carry 1. 7+5+1=13 write 3 carry 1. 4+3+1=8 write 8. So 478 + 356 = 834.

Deterministic: the same seed gives the same problems on every machine (random.Random, no hashing).

    arithmetic.py --count 1000 --seed 0 --max-digits 7 > problems.jsonl
"""
import argparse
import json
import random
import re
import sys

FAMILIAR_DIGITS = 3


def digits_of(n):
    return [int(c) for c in str(n)][::-1]  # least significant first


def value_of(written):
    """The number whose digits, least significant first, are `written`."""
    return int("".join(map(str, written[::-1])))


def never():
    return False


# The trace functions take `slip`, called once per carry (or borrow) that the next column should
# use; when it returns True the column forgets it. Every later step, partial product and the final
# answer follow from what was written, so a slipped trace is consistent and wrong, as a person's
# would be. slip=never gives the correct trace.
def add_trace(a, b, slip=never):
    """Steps of a + b, the longest carry chain, and the value written."""
    da, db = digits_of(a), digits_of(b)
    steps, written, carry, chain, longest = [], [], 0, 0, 0
    for i in range(max(len(da), len(db))):
        x = da[i] if i < len(da) else 0
        y = db[i] if i < len(db) else 0
        if carry and slip():
            carry = 0
        s = x + y + carry
        term = f"{x}+{y}" + ("+1" if carry else "")
        carry_out = s // 10
        steps.append(f"{term}={s} write {s % 10}" + (" carry 1" if carry_out else ""))
        written.append(s % 10)
        chain = chain + 1 if carry_out else 0
        longest = max(longest, chain)
        carry = carry_out
    if carry:
        steps.append("write 1")
        written.append(1)
    return steps, longest, value_of(written)


def sub_trace(a, b, slip=never):  # a >= b
    """Steps of a - b, the longest borrow chain, and the value written."""
    da, db = digits_of(a), digits_of(b)
    steps, written, borrow, chain, longest = [], [], 0, 0, 0
    for i in range(len(da)):
        if borrow and slip():
            borrow = 0
        x = da[i] - borrow
        y = db[i] if i < len(db) else 0
        borrow_out = 1 if x < y else 0
        top = x + 10 * borrow_out
        steps.append(f"{top}-{y}={top - y} write {top - y}" + (" borrow 1" if borrow_out else ""))
        written.append(top - y)
        chain = chain + 1 if borrow_out else 0
        longest = max(longest, chain)
        borrow = borrow_out
    return steps, longest, value_of(written)


def times_digit_trace(a, y, slip=never):
    """a * y for one digit y, digit by digit: the steps, whether any step carried, the value written."""
    steps, written, carry, carried = [], [], 0, False
    for x in digits_of(a):
        if carry and slip():
            carry = 0
        p = x * y + carry
        term = f"{x}*{y}" + (f"+{carry}" if carry else "")
        carry = p // 10
        carried = carried or carry > 0
        steps.append(f"{term}={p} write {p % 10}" + (f" carry {carry}" if carry else ""))
        written.append(p % 10)
    if carry:
        steps.append(f"write {carry}")
        written.append(carry)
    return steps, carried, value_of(written)


def mul_trace(a, b, slip=never):
    """b has one or two digits: one digit-by-digit product per digit of b, then their sum."""
    steps, with_carry, partials = [], 0, []
    for i, y in enumerate(digits_of(b)):
        digit_steps, carried, product = times_digit_trace(a, y, slip)
        steps += digit_steps
        partial = product * 10 ** i
        steps.append(f"so {a}*{y}" + ("0" * i) + f" = {partial}")
        with_carry += int(carried)
        partials.append(partial)
    value = partials[0]
    if len(partials) == 2:
        add_steps, add_carries, value = add_trace(partials[0], partials[1], slip)
        steps += add_steps
        with_carry += add_carries
    return steps, with_carry, value


def solve(op, operands, slip=never):
    """The trace of one question: (steps, difficulty count, question text, value written)."""
    if op == "add":
        a, b = operands
        steps, carries, value = add_trace(a, b, slip)
        question = f"{a} + {b}"
    elif op == "sub":
        a, b = operands
        steps, carries, value = sub_trace(a, b, slip)
        question = f"{a} - {b}"
    elif op == "mul":
        a, b = operands
        steps, carries, value = mul_trace(a, b, slip)
        question = f"{a} * {b}"
    elif op == "expr":
        a, b, c = operands
        s_steps, s_carries, total = add_trace(a, b, slip)
        m_steps, m_carries, value = mul_trace(total, c, slip)
        steps = s_steps + [f"so {a} + {b} = {total}"] + m_steps
        carries = s_carries + m_carries
        question = f"({a} + {b}) * {c}"
    else:
        raise ValueError(op)
    return steps, carries, question, value


def operand(rng, digits):
    return rng.randint(10 ** (digits - 1) if digits > 1 else 0, 10 ** digits - 1)


def make_problem(rng, op, digits):
    """One problem whose largest operand has `digits` digits."""
    if op in ("add", "sub"):
        a, b = operand(rng, digits), operand(rng, rng.randint(1, digits))
        operands = (a, b) if op == "add" else (max(a, b), min(a, b))
    elif op == "mul":  # the multiplier has one or two digits: the trace stays short enough to learn
        operands = (operand(rng, digits), operand(rng, rng.randint(1, min(2, digits))))
    elif op == "expr":  # (a + b) * c: an addition, then a multiplication by a one-digit number
        operands = (operand(rng, digits), operand(rng, rng.randint(1, digits)), rng.randint(2, 9))
    else:
        raise ValueError(op)
    steps, carries, question, answer = solve(op, operands)
    return {
        "prompt": f"Q: {question} = ?",
        "solution": ". ".join(steps) + f". So {question} = {answer}.",
        "answer": str(answer),
        "op": op,
        "digits": digits,
        "carries": carries,
        "familiar": digits <= FAMILIAR_DIGITS,
    }


QUESTION = re.compile(r"^Q: (?:\((\d+) \+ (\d+)\) \* (\d+)|(\d+) ([-+*]) (\d+)) = \?$")


def operands_of(prompt):
    """(op, operands) of a prompt make_problem wrote."""
    m = QUESTION.match(prompt)
    if not m:
        raise ValueError(f"not an arithmetic.py prompt: {prompt!r}")
    if m.group(1):
        return "expr", tuple(int(m.group(i)) for i in (1, 2, 3))
    return {"+": "add", "-": "sub", "*": "mul"}[m.group(5)], (int(m.group(4)), int(m.group(6)))


def slipped_solution(row, rate, rng):
    """row's trace where each carry or borrow is forgotten with probability `rate` (drawn from rng),
    and how many were forgotten. The answer written at the end is the trace's own, right or not."""
    forgotten = []

    def slip():
        forgotten.append(rng.random() < rate)
        return forgotten[-1]

    op, operands = operands_of(row["prompt"])
    steps, _, question, value = solve(op, operands, slip)
    return ". ".join(steps) + f". So {question} = {value}.", sum(forgotten)


def carry_uses(row):
    """How many carries and borrows row's correct trace uses: its chances to slip."""
    uses = []
    solve(*operands_of(row["prompt"]), slip=lambda: uses.append(1) or False)
    return len(uses)


def generate(count, seed, max_digits, ops=("add", "sub", "mul", "expr")):
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        op = ops[i % len(ops)]
        digits = rng.randint(1, max_digits)
        row = make_problem(rng, op, digits)
        row["id"] = f"{op}-{seed}-{i}"
        rows.append(row)
    return rows


def training_seed(run_seed):
    """The corpus seed of the training run with seed `run_seed`, apart from every evaluation seed."""
    return 1000 + run_seed


def training_set(count, run_seed):
    """The problems a training run draws: operands in the familiar range only."""
    return generate(count, seed=training_seed(run_seed), max_digits=FAMILIAR_DIGITS)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-digits", type=int, default=7)
    ap.add_argument("--ops", default="add,sub,mul,expr")
    args = ap.parse_args()
    for row in generate(args.count, args.seed, args.max_digits, tuple(args.ops.split(","))):
        sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
