"""The statistics behind the marts, next to the dbt models that use them (dbt Python models import this package):
CLV and churn (`clv`: BG/NBD, MBG/NBD, Gamma-Gamma) and the causal programme effect (`did`: staggered
difference-in-differences). Pure numpy/scipy functions, unit-tested on their own."""
