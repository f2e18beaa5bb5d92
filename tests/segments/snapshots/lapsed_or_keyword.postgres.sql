WITH "t12" AS (
  SELECT
    "t6"."id_type",
    "t6"."id_value",
    MIN("t6"."profile_id") AS "profile_id"
  FROM (
    SELECT
      *
    FROM "profile_identifiers" AS "t2"
    WHERE
      "t2"."status" = 'linked'
  ) AS "t6"
  GROUP BY
    1,
    2
)
SELECT
  *
FROM (
  SELECT
    *
  FROM (
    SELECT
      "t7"."profile_id"
    FROM (
      SELECT
        *
      FROM (
        SELECT
          "t1"."profile_id"
        FROM "profiles" AS "t1"
      ) AS "t3"
      UNION
      SELECT
        *
      FROM (
        SELECT
          "t2"."profile_id"
        FROM "profile_identifiers" AS "t2"
      ) AS "t4"
    ) AS "t7"
    WHERE
      NOT EXISTS(
        SELECT
          1
        FROM (
          SELECT
            "t23"."profile_id"
          FROM (
            SELECT
              "t22"."profile_id",
              COUNT(*) AS "value"
            FROM (
              SELECT
                COALESCE("t21"."_up", "t21"."_ap", "t21"."_dp") AS "profile_id",
                "t21"."ts",
                "t21"."event",
                COALESCE("t21"."channel", "t21"."source") AS "channel",
                "t21"."source",
                "t21"."properties"
              FROM (
                SELECT
                  "t11"."event",
                  "t11"."source",
                  "t11"."channel",
                  "t11"."properties",
                  "t11"."user_id",
                  "t11"."anonymous_id",
                  "t11"."context_device_id",
                  "t11"."ts",
                  "t11"."_user_type",
                  "t11"."_anon_type",
                  "t17"."_ut",
                  "t17"."_uv",
                  "t17"."_up",
                  "t18"."_at",
                  "t18"."_av",
                  "t18"."_ap",
                  "t19"."_dv",
                  "t19"."_dp"
                FROM (
                  SELECT
                    "t0"."event",
                    "t0"."source",
                    "t0"."channel",
                    "t0"."properties",
                    "t0"."user_id",
                    "t0"."anonymous_id",
                    "t0"."context_device_id",
                    COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") AS "ts",
                    CASE
                      WHEN "t0"."source" = 'tmall'
                      THEN 'marketplace_buyer_id'
                      ELSE CASE WHEN "t0"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
                    END AS "_user_type",
                    CASE WHEN "t0"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END AS "_anon_type"
                  FROM "events" AS "t0"
                  WHERE
                    COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") IS NOT NULL
                    AND COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") >= CAST('2026-03-03T12:00:00' AS TIMESTAMP)
                    AND "t0"."event" IN ('Order Completed')
                ) AS "t11"
                LEFT OUTER JOIN (
                  SELECT
                    "t13"."id_type" AS "_ut",
                    "t13"."id_value" AS "_uv",
                    "t13"."profile_id" AS "_up"
                  FROM "t12" AS "t13"
                ) AS "t17"
                  ON "t11"."_user_type" = "t17"."_ut"
                  AND TRIM(' 	
' FROM "t11"."user_id") = "t17"."_uv"
                LEFT OUTER JOIN (
                  SELECT
                    "t13"."id_type" AS "_at",
                    "t13"."id_value" AS "_av",
                    "t13"."profile_id" AS "_ap"
                  FROM "t12" AS "t13"
                ) AS "t18"
                  ON "t11"."_anon_type" = "t18"."_at"
                  AND TRIM(' 	
' FROM "t11"."anonymous_id") = "t18"."_av"
                LEFT OUTER JOIN (
                  SELECT
                    "t13"."id_value" AS "_dv",
                    "t13"."profile_id" AS "_dp"
                  FROM "t12" AS "t13"
                  WHERE
                    "t13"."id_type" = 'device_id'
                ) AS "t19"
                  ON TRIM(' 	
' FROM "t11"."context_device_id") = "t19"."_dv"
              ) AS "t21"
              WHERE
                COALESCE("t21"."_up", "t21"."_ap", "t21"."_dp") IS NOT NULL
            ) AS "t22"
            GROUP BY
              1
          ) AS "t23"
          WHERE
            NOT (
              (
                "t23"."value" >= 0
              ) AND (
                "t23"."value" <= 0
              )
            )
        ) AS "t26"
        WHERE
          "t7"."profile_id" = "t26"."profile_id"
      )
  ) AS "t28"
  UNION
  SELECT
    *
  FROM (
    SELECT
      COALESCE("t20"."_up", "t20"."_ap", "t20"."_dp") AS "profile_id"
    FROM (
      SELECT
        "t10"."event",
        "t10"."source",
        "t10"."channel",
        "t10"."properties",
        "t10"."user_id",
        "t10"."anonymous_id",
        "t10"."context_device_id",
        "t10"."ts",
        "t10"."_user_type",
        "t10"."_anon_type",
        "t17"."_ut",
        "t17"."_uv",
        "t17"."_up",
        "t18"."_at",
        "t18"."_av",
        "t18"."_ap",
        "t19"."_dv",
        "t19"."_dp"
      FROM (
        SELECT
          "t0"."event",
          "t0"."source",
          "t0"."channel",
          "t0"."properties",
          "t0"."user_id",
          "t0"."anonymous_id",
          "t0"."context_device_id",
          COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") AS "ts",
          CASE
            WHEN "t0"."source" = 'tmall'
            THEN 'marketplace_buyer_id'
            ELSE CASE WHEN "t0"."source" = 'jd' THEN 'marketplace_buyer_id' ELSE 'user_id' END
          END AS "_user_type",
          CASE WHEN "t0"."source" = 'wechat' THEN 'wechat_openid' ELSE 'anonymous_id' END AS "_anon_type"
        FROM "events" AS "t0"
        WHERE
          COALESCE("t0"."timestamp", "t0"."original_timestamp", "t0"."received_at") IS NOT NULL
          AND "t0"."event" IN ('Message Received')
      ) AS "t10"
      LEFT OUTER JOIN (
        SELECT
          "t13"."id_type" AS "_ut",
          "t13"."id_value" AS "_uv",
          "t13"."profile_id" AS "_up"
        FROM "t12" AS "t13"
      ) AS "t17"
        ON "t10"."_user_type" = "t17"."_ut"
        AND TRIM(' 	
' FROM "t10"."user_id") = "t17"."_uv"
      LEFT OUTER JOIN (
        SELECT
          "t13"."id_type" AS "_at",
          "t13"."id_value" AS "_av",
          "t13"."profile_id" AS "_ap"
        FROM "t12" AS "t13"
      ) AS "t18"
        ON "t10"."_anon_type" = "t18"."_at"
        AND TRIM(' 	
' FROM "t10"."anonymous_id") = "t18"."_av"
      LEFT OUTER JOIN (
        SELECT
          "t13"."id_value" AS "_dv",
          "t13"."profile_id" AS "_dp"
        FROM "t12" AS "t13"
        WHERE
          "t13"."id_type" = 'device_id'
      ) AS "t19"
        ON TRIM(' 	
' FROM "t10"."context_device_id") = "t19"."_dv"
    ) AS "t20"
    WHERE
      COALESCE("t20"."_up", "t20"."_ap", "t20"."_dp") IS NOT NULL
      AND LOWER(
        COALESCE(
          CASE
            WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'channel')) = 'string'
            THEN JSON_EXTRACT_PATH_TEXT(
              JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'channel'),
              VARIADIC ARRAY[]::TEXT[]
            )
            ELSE NULL
          END,
          COALESCE("t20"."channel", "t20"."source")
        )
      ) IN ('wechat')
      AND COALESCE(
        LOWER(
          TRIM(' 	
' FROM CASE
            WHEN JSON_TYPEOF(JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'text')) = 'string'
            THEN JSON_EXTRACT_PATH_TEXT(
              JSON_EXTRACT_PATH(CAST("t20"."properties" AS JSON), 'text'),
              VARIADIC ARRAY[]::TEXT[]
            )
            ELSE NULL
          END)
        ) = 'vip',
        FALSE
      )
  ) AS "t24"
) AS "t29"
