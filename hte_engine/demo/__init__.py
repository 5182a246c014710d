"""Seeded generators of the bundled demo data with a known truth: ``data`` (the two demo experiments, written to
seeds/demo by scripts/generate_demo_data.py) and ``population`` (a population to target, for the population models'
demo and tests). Not used by any model."""
