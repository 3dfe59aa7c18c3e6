"""The ranker: which of an enterprise's notices come first, how many go out at once, which near misses to raise.

It never decides eligibility or amounts: those come from the rules alone.

- ``features``  candidate pairs (enterprise × policy) and their features, in polars;
- ``labels``    stored responses → graded relevance labels;
- ``simulate``  a documented stand-in for enterprises, to make feedback for demos and tests;
- ``model``     LightGBM LambdaRank, grouped by enterprise and as-of date, position-aware;
- ``propensity`` position bias: position ids, examination propensities, inverse-propensity weights;
- ``evaluate``  NDCG@5, NDCG@10, MAP and the baselines (the fallback order among them);
- ``first_wave`` what the order decides under the push cap: take-up captured by the first wave, NDCG@cap, MRR;
- ``bootstrap`` intervals over enterprises for ratios of sums, paired differences;
- ``holdout``   the share of each run's enterprises kept on the fallback order;
- ``uplift``    take-up of ranked against held-out enterprises, from the responses received;
- ``drift``     population stability index of a run's features against the champion's training pairs;
- ``model_card`` the card kept with every registered version;
- ``registry``  the MLflow store: runs, registered versions, the ``champion`` alias;
- ``train``     train → evaluate → register → promote only on improvement;
- ``serve``     order, push cap and waves inside a matching run (fallback order without a model);
- ``explain``   a pair's top contributions (LightGBM ``pred_contrib``) in plain zh and en.

Only ``serve`` is imported by the matching run; it needs neither LightGBM nor MLflow.
"""
