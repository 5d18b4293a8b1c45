/** Constructor ids the codec handles itself (unsigned). */
export const ID_VECTOR = 0x1cb5c415;
export const ID_BOOL_TRUE = 0x997275b5;
export const ID_BOOL_FALSE = 0xbc799737;
export const ID_TRUE = 0x3fedd339;
export const ID_NULL = 0x56730bcc;
export const ID_GZIP_PACKED = 0x3072cfa1;
export const ID_MSG_CONTAINER = 0x73f1f8dc;
export const ID_RPC_RESULT = 0xf35c6d01;
export const ID_RPC_ERROR = 0x2144ca19;
export const ID_FUTURE_SALTS = 0xae500895;
export const ID_SERVER_DH_PARAMS_FAIL = 0x79cb045d;
