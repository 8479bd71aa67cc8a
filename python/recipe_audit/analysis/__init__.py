"""Statistics over the scan frame: what each picture is like and how a dataset is composed.

`outliers` (odd images, each flag with its threshold), `properties` (biases between splits and
labels), `labels` (class counts per split), `boxes` (annotations checked against images), `bias`
(a last layer's bias from the label priors), `label_errors` (confident learning over a model's
out-of-sample probabilities) and `significance` (the tests they share). Polars expressions and
Rust passes over the rows; nothing here reads files.
"""
