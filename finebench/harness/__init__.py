"""finebench inside lmms-eval: the tasks it runs, the code its tasks call, and its runs.

    tasknames              every task, group and responder name, and the selections commands run
    taskgen                the task YAMLs in tasks/, generated from the registry
    taskhooks              what the YAMLs' !function hooks call (tasks/utils.py is glue)
    responders             reference responders registered as lmms-eval models
    tinymodel              the tiny random Qwen2.5-VL of the demo and the tests
    evalrun                running lmms-eval (`finebench eval`)
    lmms_plugin            the shims lmms-eval loads through its model entry point (tasks, journal)
    journal                every answer on disk as it is made, so a crashed run resumes
    guard                  child commands whose whole tree dies with their parent
    runs                   reading a run's results and samples files back
    rescore                scoring a run's samples again
    doctor                 what would stop a run, found before it starts
    benchmark              `finebench bench harness`

May import: finebench.scoring, finebench.data and the foundations.
"""
