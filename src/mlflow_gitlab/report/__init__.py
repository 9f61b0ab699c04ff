"""The merge-request report: candidates against a baseline, in one updatable note.

    sources -> gather (candidates), baseline -> compare -> render (+ chart) -> note, metrics
    flow.make_report() runs them in that order; model holds the data they pass along.
"""
