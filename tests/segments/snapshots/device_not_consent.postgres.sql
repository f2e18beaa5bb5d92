WITH "t5" AS (
  SELECT
    "t3"."id_type",
    "t3"."id_value",
    MIN("t3"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
  ) AS "t3"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    "t21"."profile_id"
  FROM (
    SELECT DISTINCT
      COALESCE("t19"."_up", "t19"."_ap", "t19"."_dp") AS "profile_id"
    FROM (
      SELECT
        "t18"."source",
        "t18"."user_id",
        "t18"."anonymous_id",
        "t18"."context_device_id",
        "t18"."last_seen",
        "t18"."_user_type",
        "t18"."_anon_type",
        "t13"."_ut",
        "t13"."_uv",
        "t13"."_up",
        "t14"."_at",
        "t14"."_av",
        "t14"."_ap",
        "t15"."_dv",
        "t15"."_dp"
      FROM (
        SELECT
          "t16"."source",
          "t16"."user_id",
          "t16"."anonymous_id",
          "t16"."context_device_id",
          "t16"."last_seen",
          CASE
            WHEN "t16"."source" = 'tmall'
            THEN 'marketplace_buyer_id'
            ELSE CASE WHEN "t16"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
          END AS "_user_type",
          CASE WHEN "t16"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END AS "_anon_type"
        FROM (
          SELECT
            "t11"."source",
            "t11"."user_id",
            "t11"."anonymous_id",
            "t11"."context_device_id",
            MAX("t11"."ts") AS "last_seen"
          FROM (
            SELECT
              "t1"."event",
              "t1"."source",
              "t1"."channel",
              "t1"."properties",
              "t1"."user_id",
              "t1"."anonymous_id",
              "t1"."context_device_id",
              "t1"."context_os_name",
              "t1"."context_device_type",
              "t1"."context_app_name",
              "t1"."context",
              "t1"."loaded_at",
              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") AS "ts"
            FROM "events" AS "t1"
            WHERE
              COALESCE("t1"."timestamp", "t1"."original_timestamp", "t1"."received_at") IS NOT NULL
              AND COALESCE("t1"."context_os_name" = 'iOS', FALSE)
              AND COALESCE(
                (
                  CASE
                    WHEN JSON_TYPEOF(
                      JSON_EXTRACT_PATH(JSON_EXTRACT_PATH(CAST("t1"."context" AS JSON), 'device'), 'token')
                    ) = 'string'
                    THEN JSON_EXTRACT_PATH_TEXT(
                      JSON_EXTRACT_PATH(JSON_EXTRACT_PATH(CAST("t1"."context" AS JSON), 'device'), 'token'),
                      VARIADIC ARRAY[]::TEXT[]
                    )
                    ELSE NULL
                  END IS NOT NULL
                )
                AND (
                  TRIM(' 	
' FROM CASE
                    WHEN JSON_TYPEOF(
                      JSON_EXTRACT_PATH(JSON_EXTRACT_PATH(CAST("t1"."context" AS JSON), 'device'), 'token')
                    ) = 'string'
                    THEN JSON_EXTRACT_PATH_TEXT(
                      JSON_EXTRACT_PATH(JSON_EXTRACT_PATH(CAST("t1"."context" AS JSON), 'device'), 'token'),
                      VARIADIC ARRAY[]::TEXT[]
                    )
                    ELSE NULL
                  END) <> ''
                ),
                FALSE
              )
          ) AS "t11"
          GROUP BY
            1,
            2,
            3,
            4
        ) AS "t16"
      ) AS "t18"
      LEFT OUTER JOIN (
        SELECT
          "t6"."id_type" AS "_ut",
          "t6"."id_value" AS "_uv",
          "t6"."profile_id" AS "_up"
        FROM "t5" AS "t6"
      ) AS "t13"
        ON "t18"."_user_type" = "t13"."_ut"
        AND TRIM(' 	
' FROM "t18"."user_id") = "t13"."_uv"
      LEFT OUTER JOIN (
        SELECT
          "t6"."id_type" AS "_at",
          "t6"."id_value" AS "_av",
          "t6"."profile_id" AS "_ap"
        FROM "t5" AS "t6"
      ) AS "t14"
        ON "t18"."_anon_type" = "t14"."_at"
        AND TRIM(' 	
' FROM "t18"."anonymous_id") = "t14"."_av"
      LEFT OUTER JOIN (
        SELECT
          "t6"."id_value" AS "_dv",
          "t6"."profile_id" AS "_dp"
        FROM "t5" AS "t6"
        WHERE
          "t6"."id_type" = 'device_id'
      ) AS "t15"
        ON TRIM(' 	
' FROM "t18"."context_device_id") = "t15"."_dv"
    ) AS "t19"
    WHERE
      COALESCE("t19"."_up", "t19"."_ap", "t19"."_dp") IS NOT NULL
  ) AS "t21"
  WHERE
    NOT EXISTS(
      SELECT
        1
      FROM (
        SELECT
          "t4"."profile_id"
        FROM (
          SELECT
            "t0"."profile_id",
            CASE
              WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t0"."consent" AS JSON), 'push')) = 'string'
              THEN JSON_EXTRACT_PATH_TEXT(JSON_EXTRACT_PATH(CAST("t0"."consent" AS JSON), 'push'), VARIADIC ARRAY[]::TEXT[])
              ELSE NULL
            END AS "value"
          FROM "profiles" AS "t0"
        ) AS "t4"
        WHERE
          COALESCE("t4"."value" = 'granted', FALSE)
      ) AS "t10"
      WHERE
        "t21"."profile_id" = "t10"."profile_id"
    )
) AS "t23"
