"""minik8s for the tests of users' own code: a pytest plugin (`plugin.py`, registered through the
`pytest11` entry point as `minik8s`) whose fixtures start a local cluster with `minictl up` in a home of
its own on free ports, hand out clients and a kubeconfig, give each test a fresh namespace, and remove
it all with `minictl down --purge`. `cluster.py` owns one such cluster (`LocalCluster`, usable without
pytest), `helpers.py` the `apply` and `wait_for` helpers. Nothing here is imported by the package
itself: pytest loads the plugin in every run of an environment where minik8s is installed."""
