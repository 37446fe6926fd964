"""The reference trainer: CoT data, CoT SFT and TAPO on TRL, with launch recipes.

Built so far: TAPO's loss terms (losses), reward (rewards), configuration (config),
triplets (triplets), the import of the released CoT SFT set (cot_import) and the
EasyR1 exporter (easyr1). Trainers read the k-shot training sets that `finebench prepare`
writes (finebench.fewshot).
"""
