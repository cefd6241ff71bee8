from setuptools import setup

# namespace_packages (the pkg_resources style): the wheel carries a *-nspkg.pth file that sets up
# the "xarsample" namespace when site processes the directory, instead of an __init__.py.
setup(
    name="xarsample-banner",
    version="0.3.0",
    description="Draws a box around text (samples/python: the namespace package)",
    packages=["xarsample", "xarsample.banner"],
    namespace_packages=["xarsample"],
)
