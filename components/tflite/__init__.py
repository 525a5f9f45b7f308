"""The TFLite quantize-and-validate component: convert, quantize, package and prove a model fit to ship."""
