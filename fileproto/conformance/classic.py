"""The sentences of the classic exercise's protocol text (docs/classic-protocol.md) that
the rules of the classic profile rest on, and the profiles themselves.

``--profile fileproto`` (the default) holds every rule of docs/protocol.md. ``--profile
classic`` holds only the rules that rest on a sentence below, and the safety rules every
file server owes (``SAFETY``: nothing read, written or deleted outside the root; the
server survives bad input; no client receives another's answers); our stricter rules are
reported NON-STRICT there, never FAIL.
"""

from __future__ import annotations

FILEPROTO = "fileproto"
CLASSIC = "classic"
PROFILES = (FILEPROTO, CLASSIC)
DEFAULT_PROFILE = FILEPROTO

#: Not a sentence of the text: what every file server owes whatever its protocol says.
SAFETY = "safety"

#: Key -> the sentence (quoted from the classic text, docs/classic-protocol.md) a rule of
#: the classic profile rests on.
SENTENCES: dict[str, str] = {
    "serve": "TUJUAN: melayani client dalam request file server",
    "format": "string harus dalam format REQUEST spasi PARAMETER",
    "unknown": "Jika request tidak dikenali akan menghasilkan pesan - status: ERROR - data: "
    "request tidak dikenali",
    "result": "Semua result akan diberikan dalam bentuk JSON dan diakhiri dengan character "
    'ascii code #13#10#13#10 atau "\\r\\n\\r\\n"',
    "list": "LIST * TUJUAN: untuk mendapatkan daftar seluruh file yang dilayani oleh file "
    "server ... - status: OK - data: list file",
    "get": "GET * TUJUAN: untuk mendapatkan isi file dengan menyebutkan nama file dalam "
    "parameter ... - status: OK - data_namafile : nama file yang diminta - data_file : isi "
    "file yang diminta (dalam bentuk base64)",
    "failed": "GAGAL: - status: ERROR - data: pesan kesalahan",
    "upload": "UPLOAD * PARAMETER: - PARAMETER1 : nama file - PARAMETER2 : isi file dalam "
    "format base64 * RESULT: - BERHASIL: - status: OK",
    "delete": "DELETE * PARAMETER: - PARAMETER1 : nama file * RESULT: - BERHASIL: - status: OK",
    SAFETY: "(no sentence: what every file server owes) nothing read, written or deleted "
    "outside its root folder, the server survives any input, and each client receives the "
    "answers to its own requests only",
}


def profiles_of(classic: str | None) -> tuple[str, ...]:
    """The profiles that hold a rule whose classic basis is ``classic`` (None: ours only)."""
    return PROFILES if classic is not None else (FILEPROTO,)
