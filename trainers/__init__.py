"""The reference trainer: CoT data, CoT SFT and TAPO on TRL, with launch recipes.

Data: triplets (nearest-class tables and triplets), tapo_data (TAPO's training rows),
cot_import (the released CoT set), cot_build (CoT construction: the pipeline) with teachers
(the teacher clients), concepts (choosing visual concepts) and cot_checks (checking an
answer), easyr1 (the release's format). Training: sft (SFTTrainer), tapo (TAPOTrainer on GRPOTrainer),
with config (TAPOConfig and the ablations), losses and rewards as small pure functions.
cli is `finebench train`, benchmark is `finebench bench tapo`, accelerate/ holds the
DeepSpeed ZeRO-3, FSDP and DDP launch configs. Trainers read the k-shot sets that
`finebench prepare` writes (finebench.data.fewshot).
"""
