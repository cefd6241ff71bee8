from setuptools import Extension, setup

setup(
    name="fastcount",
    version="1.2.0",
    description="Counts words in C (samples/python: the native extension)",
    ext_modules=[Extension("fastcount", ["fastcount.c"])],
)
