"""The OMOP cohort engine: TRD found and staged across whole populations.

One phenotype definition written with Ibis (:mod:`trdnav.cohort.steps` and
:mod:`trdnav.cohort.definition`, the *what*)
runs on DuckDB, Spark or PostgreSQL (``*_runner`` modules, the *where*); its facts are the
knowledge data (:mod:`trdnav.cohort.concepts`). :mod:`trdnav.cohort.histories` turns one
person's OMOP records into the core's patient history, so the per-patient core can check
the engines.
"""
