"""How an answer is scored, under both protocols, with no lmms-eval in sight.

The *official* protocol is the released evaluation, reproduced bit for bit (its option
order puts the answer first; its scorer matches substrings); the *finebench* protocol
fixes both (balanced option order, whole-word matching, one answer).

    protocols              the protocols' names, and what each scores with
    prompts                the questions the model is asked
    parsing, matching      reading an answer; deciding which class names it names
    metrics                the three metrics per line, official and finebench rules side by side
    circular               the circular closed world: rotations, their records, a line's score from four
    scoring                one generation against one prepared row, every metric at once
    encoders               text encoders for the open-world similarity
    stats                  bootstrap intervals
    benchmark              `finebench bench scoring`

May import: finebench.data and the foundations.
"""
