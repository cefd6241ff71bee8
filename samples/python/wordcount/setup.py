from setuptools import setup

setup(
    name="wordcount",
    version="2.0.1",
    description="Counts words (samples/python: the application, with a console script)",
    packages=["wordcount"],
    package_data={"wordcount": ["stopwords.txt"]},
    install_requires=["fastcount>=1.0", "xarsample-banner"],
    entry_points={"console_scripts": ["wordcount = wordcount.cli:main"]},
)
