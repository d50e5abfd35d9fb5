"""Container runtimes behind one small interface (base.Runtime): docker, process, fake."""
