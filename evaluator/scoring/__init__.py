"""From the judge's answers to results: triggers that decide applicability, and the success
rubric."""
