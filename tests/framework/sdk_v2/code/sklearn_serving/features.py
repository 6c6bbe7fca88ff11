"""A helper module next to the entry point: the container puts the source dir on sys.path."""


def positive_column(model):
    return list(model.classes_).index(1)
