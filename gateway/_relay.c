/* The send the app gets, compiled: gateway/relay.py holds the same in Python (python_relay) and
   explains it. Most responses are neither pages nor set cookies: their start and body go straight
   to the server's send. A start that needs work goes to PageRules.start, which hands back the send
   for the later messages and what to await for the start. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <string.h>

static PyObject *page_types;  /* gateway.responder.PAGE_TYPES, set by use_page_types */
static PyObject *str_type, *str_headers, *str_status, *str_start_type, *str_start, *int_304, *empty_bytes;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *send, *rules, *granted, *scope, *revalidating;
    PyObject *forward;  /* NULL until the start is seen */
} Relay;

static int relay_traverse(Relay *self, visitproc visit, void *arg) {
    Py_VISIT(self->send); Py_VISIT(self->rules); Py_VISIT(self->granted);
    Py_VISIT(self->scope); Py_VISIT(self->revalidating); Py_VISIT(self->forward);
    return 0;
}

static int relay_clear(Relay *self) {
    Py_CLEAR(self->send); Py_CLEAR(self->rules); Py_CLEAR(self->granted);
    Py_CLEAR(self->scope); Py_CLEAR(self->revalidating); Py_CLEAR(self->forward);
    return 0;
}

static void relay_dealloc(Relay *self) {
    PyObject_GC_UnTrack(self);
    relay_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* message[key] as a new reference, KeyError when missing, as a subscript in Python. */
static PyObject *item(PyObject *message, PyObject *key) {
    if (PyDict_CheckExact(message)) {
        PyObject *value = PyDict_GetItemWithError(message, key);
        if (value == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, key);
            return NULL;
        }
        Py_INCREF(value);
        return value;
    }
    return PyObject_GetItem(message, key);
}

static int is_name(PyObject *name, const char *expected, Py_ssize_t length) {
    return PyBytes_Check(name) && PyBytes_GET_SIZE(name) == length && memcmp(PyBytes_AS_STRING(name), expected, length) == 0;
}

static PyObject *start(Relay *self, PyObject *message) {
    PyObject *content_type = empty_bytes, *headers, *result = NULL;
    int sets_cookies = 0, needs_work;
    Py_INCREF(content_type);
    headers = item(message, str_headers);
    if (headers == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) goto done;
        PyErr_Clear();  /* optional in ASGI */
    } else {
        PyObject *sequence = PySequence_Fast(headers, "headers must be iterable");
        Py_DECREF(headers);
        if (sequence == NULL) goto done;
        Py_ssize_t count = PySequence_Fast_GET_SIZE(sequence);
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *pair = PySequence_Fast(PySequence_Fast_GET_ITEM(sequence, i), "a header must be a pair");
            if (pair == NULL) { Py_DECREF(sequence); goto done; }
            if (PySequence_Fast_GET_SIZE(pair) != 2) {
                PyErr_SetString(PyExc_ValueError, "a header must be a (name, value) pair");
                Py_DECREF(pair); Py_DECREF(sequence); goto done;
            }
            PyObject *name = PySequence_Fast_GET_ITEM(pair, 0);
            if (is_name(name, "set-cookie", 10)) {
                sets_cookies = 1;
            } else if (is_name(name, "content-type", 12)) {
                Py_INCREF(PySequence_Fast_GET_ITEM(pair, 1));
                Py_SETREF(content_type, PySequence_Fast_GET_ITEM(pair, 1));
            }
            Py_DECREF(pair);
        }
        Py_DECREF(sequence);
    }
    needs_work = sets_cookies;
    if (!needs_work) {
        PyObject *status = item(message, str_status);
        if (status == NULL) goto done;
        needs_work = PyObject_RichCompareBool(status, int_304, Py_EQ);
        Py_DECREF(status);
        if (needs_work < 0) goto done;
    }
    if (!needs_work) {
        if (page_types == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "use_page_types was not called (import gateway.relay)");
            goto done;
        }
        PyObject *page = PyObject_GetItem(page_types, content_type);
        if (page == NULL) goto done;
        needs_work = PyObject_IsTrue(page);
        Py_DECREF(page);
        if (needs_work < 0) goto done;
    }
    if (!needs_work) {
        Py_INCREF(self->send);
        Py_XSETREF(self->forward, self->send);
        result = PyObject_CallOneArg(self->send, message);
        goto done;
    }
    PyObject *started = PyObject_CallMethodObjArgs(
        self->rules, str_start, message, content_type, sets_cookies ? Py_True : Py_False,
        self->granted, self->scope, self->send, self->revalidating, NULL);
    if (started == NULL) goto done;
    if (!PyTuple_CheckExact(started) || PyTuple_GET_SIZE(started) != 2) {
        PyErr_SetString(PyExc_TypeError, "PageRules.start must return (send, awaitable)");
        Py_DECREF(started); goto done;
    }
    Py_INCREF(PyTuple_GET_ITEM(started, 0));
    Py_XSETREF(self->forward, PyTuple_GET_ITEM(started, 0));
    result = PyTuple_GET_ITEM(started, 1);
    Py_INCREF(result);
    Py_DECREF(started);
done:
    Py_DECREF(content_type);
    return result;
}

static PyObject *relay_vectorcall(Relay *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 1 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "send takes one message");
        return NULL;
    }
    PyObject *message = args[0];
    if (self->forward != NULL) return PyObject_CallOneArg(self->forward, message);
    PyObject *type = item(message, str_type);
    if (type == NULL) return NULL;
    int is_start = PyUnicode_Check(type) ? PyUnicode_Compare(type, str_start_type) == 0 : PyObject_RichCompareBool(type, str_start_type, Py_EQ);
    Py_DECREF(type);
    if (is_start < 0) return NULL;
    if (!is_start) return PyObject_CallOneArg(self->send, message);
    return start(self, message);
}

static PyTypeObject RelayType;

static PyObject *relay_new_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    if (PyVectorcall_NARGS(nargsf) != 5 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "Relay(send, rules, granted, scope, revalidating)");
        return NULL;
    }
    Relay *self = PyObject_GC_New(Relay, (PyTypeObject *)type);
    if (self == NULL) return NULL;
    self->vectorcall = (vectorcallfunc)relay_vectorcall;
    Py_INCREF(args[0]); self->send = args[0];
    Py_INCREF(args[1]); self->rules = args[1];
    Py_INCREF(args[2]); self->granted = args[2];
    Py_INCREF(args[3]); self->scope = args[3];
    Py_INCREF(args[4]); self->revalidating = args[4];
    self->forward = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *relay_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "Relay takes no keyword arguments");
        return NULL;
    }
    return relay_new_vectorcall((PyObject *)type, &PyTuple_GET_ITEM(args, 0), PyTuple_GET_SIZE(args), NULL);
}

static PyTypeObject RelayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gateway._relay.Relay",
    .tp_basicsize = sizeof(Relay),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "The send the app gets: see gateway.relay.",
    .tp_new = relay_new,
    .tp_vectorcall = relay_new_vectorcall,
    .tp_vectorcall_offset = offsetof(Relay, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)relay_traverse,
    .tp_clear = (inquiry)relay_clear,
    .tp_dealloc = (destructor)relay_dealloc,
};

static PyObject *use_page_types(PyObject *module, PyObject *mapping) {
    Py_INCREF(mapping);
    Py_XSETREF(page_types, mapping);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"use_page_types", use_page_types, METH_O, "The content type memo: content type to whether it is a page."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "gateway._relay", NULL, -1, methods};

PyMODINIT_FUNC PyInit__relay(void) {
    if (PyType_Ready(&RelayType) < 0) return NULL;
    str_type = PyUnicode_InternFromString("type");
    str_headers = PyUnicode_InternFromString("headers");
    str_status = PyUnicode_InternFromString("status");
    str_start_type = PyUnicode_InternFromString("http.response.start");
    str_start = PyUnicode_InternFromString("start");
    int_304 = PyLong_FromLong(304);
    empty_bytes = PyBytes_FromStringAndSize("", 0);
    if (!str_type || !str_headers || !str_status || !str_start_type || !str_start || !int_304 || !empty_bytes) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&RelayType);
    if (PyModule_AddObject(m, "Relay", (PyObject *)&RelayType) < 0) { Py_DECREF(&RelayType); Py_DECREF(m); return NULL; }
    return m;
}
