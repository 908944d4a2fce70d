/* api_table.c - the served APIs. Keep sorted by key. See api_table.h. */
#include "api_table.h"

const bk_api_entry bk_api_table[] = {
    {BK_API_METADATA, 0, 12, bk_h_metadata},
    {BK_API_API_VERSIONS, 0, 4, bk_h_api_versions},
};
const int bk_api_table_len = (int)BK_ARRAY_LEN(bk_api_table);

const bk_api_entry *bk_api_find(int16_t key)
{
    for (int i = 0; i < bk_api_table_len; i++)
        if (bk_api_table[i].key == key)
            return &bk_api_table[i];
    return NULL;
}
