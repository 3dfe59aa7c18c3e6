"""The ranker: which of an enterprise's notices come first, how many go out at once, which near misses to raise.

It never decides eligibility or amounts: those come from the rules alone.

- ``features``  candidate pairs (enterprise × policy) and their features, in polars;
- ``labels``    stored responses → graded relevance labels;
- ``simulate``  a documented stand-in for enterprises, to make feedback for demos and tests;
- ``model``     LightGBM LambdaRank, grouped by enterprise and as-of date;
- ``evaluate``  NDCG@5, NDCG@10, MAP and the baselines;
- ``registry``  the MLflow store: runs, registered versions, the ``champion`` alias;
- ``train``     train → evaluate → register → promote only on improvement;
- ``serve``     order, push cap and waves inside a matching run (fallback order without a model);
- ``explain``   a pair's top contributions (LightGBM ``pred_contrib``) in plain zh and en.

Only ``serve`` is imported by the matching run; it needs neither LightGBM nor MLflow.
"""
