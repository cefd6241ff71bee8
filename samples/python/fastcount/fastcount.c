/* samples/python: a C extension module, so the packed app loads native code from the image. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* count_words(text) -> the number of whitespace-separated words in text. */
static PyObject *count_words(PyObject *self, PyObject *args)
{
    const char *text;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "s#", &text, &length))
        return NULL;
    Py_ssize_t words = 0;
    int inside = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        int space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if (!space && !inside)
            words++;
        inside = !space;
    }
    return PyLong_FromSsize_t(words);
}

static PyMethodDef methods[] = {
    {"count_words", count_words, METH_VARARGS, "Number of whitespace-separated words in a string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fastcount", "Word counting in C.", -1, methods};

PyMODINIT_FUNC PyInit_fastcount(void)
{
    return PyModule_Create(&module);
}
