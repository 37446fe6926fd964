"""The reference trainer: CoT data building, CoT SFT and TAPO on TRL, with launch recipes.

Trainers read the k-shot training sets that `finebench prepare` writes
(finebench.fewshot) and the prepared test data for evaluation."""
