"""compile/fit/evaluate/predict: the compiled train/test/predict steps, data adapters
and the compile-time loss and metric containers, used through `kerax.Model`."""
