"""lmms-eval task YAMLs (`finegrained_*`) and their thin utils; the logic lives in finebench.

Shipped as package data so that `finebench tasks-dir` can point lmms-eval at this folder.
"""
