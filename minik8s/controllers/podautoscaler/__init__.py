"""The horizontal pod autoscaler (autoscaling/v2), after upstream's pkg/controller/podautoscaler:
`horizontal.py` runs the HPAs (the controller, its conditions and events), `replica_calculator.py`
holds the replica math of one metric, `normalize.py` the stabilization and rate limits,
`metrics.py` reads usage from PodMetrics, and `scale.py` reads and writes the target's scale."""
